// Batches single images into one session.run: a batch of N costs less than N runs of one. An image that
// arrives while the session is idle runs at once (no added latency); images that arrive while a run is busy
// wait for it and then go together. An optional window makes the first image wait for company as well.
import * as ort from 'onnxruntime-node';

export interface BatcherOptions {
  /** How long an image arriving at an idle session waits for company; default 0 (runs at once). */
  windowInMs?: number;
  /** Most images in one run; default 16. */
  maxBatch?: number;
}

interface Pending {
  data: Float32Array;
  resolve: (probabilities: Float32Array) => void;
  reject: (error: unknown) => void;
}

export class Batcher {
  readonly #windowInMs: number;
  readonly #maxBatch: number;
  #queue: Pending[] = [];
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
  }

  /** One view (3 x size x size NCHW floats); resolves with its output row. */
  submit(view: Float32Array): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ data: view, resolve, reject });
      if (this.#running) return; // the busy run's end picks it up
      if (this.#windowInMs > 0 && this.#queue.length < this.#maxBatch) this.#timer ??= setTimeout(() => this.#flush(), this.#windowInMs);
      else this.#flush();
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

  #flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue.splice(0, this.#maxBatch);
    if (batch.length === 0) return;
    this.#running = true;
    this.#runOnce(batch.map((p) => p.data))
      .then(
        (rows) => batch.forEach((p, i) => p.resolve(rows[i]!)),
        (error: unknown) => batch.forEach((p) => p.reject(error)),
      )
      .finally(() => {
        this.#running = false;
        // Whatever arrived during the run goes next, together.
        if (this.#queue.length > 0) this.#flush();
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
