// Batches single images into one session.run: a batch of N costs less than N runs of one. An image that
// arrives while the session is idle runs at once (no added latency) unless other images are still being
// decoded for it (see reserve); images that arrive while a run is busy wait for it and then go together. An
// optional window makes the first image wait for company as well.
import * as ort from 'onnxruntime-node';

export interface BatcherOptions {
  /** How long an image arriving at an idle session waits for company; default 0 (runs at once). */
  windowInMs?: number;
  /** Most images in one run; default 16. */
  maxBatch?: number;
  /** Longest that queued images wait for reserved images still being decoded; default 50. */
  maxWaitForReservedInMs?: number;
}

/** An image on its way to the batcher: submit it once decoded, or cancel (idempotent; a no-op after submit). */
export interface Reservation {
  submit(view: Float32Array): Promise<Float32Array>;
  cancel(): void;
}

interface Pending {
  data: Float32Array;
  resolve: (probabilities: Float32Array) => void;
  reject: (error: unknown) => void;
  queuedAt: number;
  /** Queued while the session was idle: the window applies to it. */
  arrivedIdle: boolean;
}

export class Batcher {
  readonly #windowInMs: number;
  readonly #maxBatch: number;
  readonly #maxWaitForReservedInMs: number;
  #queue: Pending[] = [];
  /** Reserved images not yet submitted: requests decoding right now. */
  #reserved = 0;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly inputName: string,
    private readonly outputName: string,
    options: BatcherOptions = {},
  ) {
    this.#windowInMs = options.windowInMs ?? 0;
    this.#maxBatch = options.maxBatch ?? 16;
    this.#maxWaitForReservedInMs = options.maxWaitForReservedInMs ?? 50;
  }

  /**
   * Announces an image before it is decoded. session.run blocks the event loop while it runs, so a batch that
   * starts while other requests are mid-decode leaves them for a run of their own: under load, runs alternate
   * between one image and the rest, and a run of one costs nearly twice as much per image as a run of eight.
   * Queued images therefore wait for reserved ones (at most maxWaitForReservedInMs). A request alone pays nothing.
   */
  reserve(): Reservation {
    this.#reserved++;
    let open = true;
    const close = (): boolean => {
      if (!open) return false;
      open = false;
      this.#reserved--;
      return true;
    };
    return {
      submit: (view) => {
        close();
        return this.submit(view);
      },
      cancel: () => {
        if (close()) this.#schedule();
      },
    };
  }

  /** One view (3 x size x size NCHW floats); resolves with its output row. */
  submit(view: Float32Array): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ data: view, resolve, reject, queuedAt: performance.now(), arrivedIdle: !this.#running });
      this.#schedule();
    });
  }

  /** Runs the views as one batch (several files of one request go here directly, in chunks of maxBatch). */
  async run(views: Float32Array[]): Promise<Float32Array[]> {
    const rows: Float32Array[] = [];
    for (let start = 0; start < views.length; start += this.#maxBatch) {
      rows.push(...(await this.#runOnce(views.slice(start, start + this.#maxBatch))));
    }
    return rows;
  }

  /** Runs the queue now, or arms a timer for when its first image has waited long enough. */
  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const first = this.#queue[0];
    if (this.#running || !first) return; // a busy run's end comes back here
    let wait = 0;
    if (this.#queue.length < this.#maxBatch) {
      if (this.#reserved > 0) wait = this.#maxWaitForReservedInMs;
      if (first.arrivedIdle) wait = Math.max(wait, this.#windowInMs);
    }
    const left = first.queuedAt + wait - performance.now();
    if (left > 0) this.#timer = setTimeout(() => this.#schedule(), left);
    else this.#flush();
  }

  #flush(): void {
    const batch = this.#queue.splice(0, this.#maxBatch);
    this.#running = true;
    this.#runOnce(batch.map((p) => p.data))
      .then(
        (rows) => batch.forEach((p, i) => p.resolve(rows[i]!)),
        (error: unknown) => batch.forEach((p) => p.reject(error)),
      )
      .finally(() => {
        this.#running = false;
        // Whatever arrived during the run goes next, together.
        this.#schedule();
      });
  }

  async #runOnce(views: Float32Array[]): Promise<Float32Array[]> {
    const per = views[0]!.length;
    const side = Math.round(Math.sqrt(per / 3));
    const input = views.length === 1 ? views[0]! : new Float32Array(per * views.length);
    if (views.length > 1) views.forEach((view, i) => input.set(view, i * per));
    const output = await this.session.run({ [this.inputName]: new ort.Tensor('float32', input, [views.length, 3, side, side]) });
    const tensor = output[this.outputName]!;
    const data = tensor.data as Float32Array;
    const width = data.length / views.length;
    // Copies: the rows outlive the output tensor.
    return views.map((_, i) => data.slice(i * width, (i + 1) * width));
  }
}
