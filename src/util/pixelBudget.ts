// A semaphore on pixels, not on files: decoding holds about 3-4 bytes per pixel, so what bounds memory is the
// pixels being decoded at once. A small legal file can claim tens of megapixels (a solid 7990x7990 PNG is 200 KB),
// so counting files would let a handful of them take gigabytes.
import { ProgrammingError } from '../errors';

export class PixelBudget {
  #available: number;
  readonly #waiting: { pixels: number; grant: () => void }[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      // DECODE_PIXEL_BUDGET is checked by the settings: a bad capacity here comes from code.
      throw new ProgrammingError(`a pixel budget must be a positive whole number, got ${capacity}`);
    this.#available = capacity;
  }

  /** Pixels not held right now. */
  get available(): number {
    return this.#available;
  }

  /**
   * Runs `work` once `pixels` are free (in arrival order), and frees them after. An image larger than the whole
   * budget waits for all of it: it still decodes, alone.
   */
  async run<T>(pixels: number, work: () => Promise<T>): Promise<T> {
    const claim = Math.min(this.capacity, Math.max(1, Math.ceil(pixels)));
    if (this.#waiting.length > 0 || this.#available < claim)
      await new Promise<void>((grant) => this.#waiting.push({ pixels: claim, grant }));
    else this.#available -= claim;
    try {
      return await work();
    } finally {
      this.#available += claim;
      this.#grant();
    }
  }

  #grant(): void {
    // First come, first served: a large image at the head is not starved by small ones behind it.
    while (this.#waiting.length > 0 && this.#waiting[0]!.pixels <= this.#available) {
      const next = this.#waiting.shift()!;
      this.#available -= next.pixels;
      next.grant();
    }
  }
}
