// Batches single images into one session.run. onnxruntime-node runs on the calling thread, so a run blocks the
// event loop: the HTTP work of the requests behind it, and the start of their decoding, wait until it ends. Left
// to themselves, 8 clients settle into runs of one to three images, each with its own such pause; runs of eight
// pay it once per eight images. So an image that arrives while the session is idle runs at once, unless the load
// says company is coming: images reserved by requests still decoding, or fewer images than were in flight at once
// lately. It then waits for them, at most maxWaitInMs; images that arrive while a run is busy go together after it,
// on the same terms. An optional window makes the first image wait for company as well.
import * as ort from 'onnxruntime-node';

export interface BatcherOptions {
  /** How long an image arriving at an idle session waits for company; default 0 (runs at once). */
  windowInMs?: number;
  /** Most images in one run; default 16. */
  maxBatch?: number;
  /** Longest a queued image waits for the company that the current load promises; default 50. */
  maxWaitInMs?: number;
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

/** A session idle this long has seen the end of the last burst: its peak no longer predicts anything. */
const PEAK_MEMORY_MS = 1000;

export class Batcher {
  readonly #windowInMs: number;
  readonly #maxBatch: number;
  readonly #maxWaitInMs: number;
  #queue: Pending[] = [];
  /** Images reserved and not yet submitted: requests decoding right now. */
  #reserved = 0;
  #inRun = 0;
  /** The most images in flight at once (running, queued, reserved) since the load last dropped. */
  #peak = 0;
  #lastRunEnd = 0;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  /** The input buffer of queued runs, as large as the largest batch so far. */
  #input: Float32Array | undefined;

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly inputName: string,
    private readonly outputName: string,
    options: BatcherOptions = {},
  ) {
    this.#windowInMs = options.windowInMs ?? 0;
    this.#maxBatch = options.maxBatch ?? 16;
    this.#maxWaitInMs = options.maxWaitInMs ?? 50;
  }

  /**
   * Announces an image before its decode, so that a run about to start waits for it rather than leaving it for a
   * run of its own. A request alone pays nothing: with nothing else in flight, its image runs as soon as it is in.
   */
  reserve(): Reservation {
    this.#reserved++;
    this.#noteLoad();
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
        if (!close()) return;
        // It counted towards the peak and is not coming: do not make the others wait for it.
        this.#peak = Math.max(0, this.#peak - 1);
        this.#schedule();
      },
    };
  }

  /** One view (3 x size x size NCHW floats); resolves with its output row. */
  submit(view: Float32Array): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ data: view, resolve, reject, queuedAt: performance.now(), arrivedIdle: !this.#running });
      this.#noteLoad();
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

  #noteLoad(): void {
    this.#peak = Math.max(this.#peak, this.#inRun + this.#queue.length + this.#reserved);
  }

  /** Runs the queue now, or arms a timer for when its first image has waited long enough. */
  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const first = this.#queue[0];
    if (this.#running || !first) return; // a busy run's end comes back here
    const now = performance.now();
    if (now - this.#lastRunEnd > PEAK_MEMORY_MS) this.#peak = this.#queue.length + this.#reserved;
    const lacking = this.#reserved > 0 || this.#queue.length < Math.min(this.#peak, this.#maxBatch);
    let until = first.queuedAt;
    if (this.#queue.length < this.#maxBatch) {
      if (lacking) until += this.#maxWaitInMs;
      if (first.arrivedIdle) until = Math.max(until, first.queuedAt + this.#windowInMs);
    }
    if (until > now) {
      this.#timer = setTimeout(() => this.#schedule(), until - now);
      return;
    }
    // The company did not come in time: the load has dropped, so stop waiting for it.
    if (lacking) this.#peak = this.#queue.length + this.#reserved;
    this.#flush();
  }

  #flush(): void {
    const batch = this.#queue.splice(0, this.#maxBatch);
    this.#running = true;
    this.#inRun = batch.length;
    void this.#runOnce(
      batch.map((p) => p.data),
      true,
    ).then(
      (rows) => this.#settle(() => batch.forEach((p, i) => p.resolve(rows[i]!))),
      (error: unknown) => this.#settle(() => batch.forEach((p) => p.reject(error))),
    );
  }

  /** Ends a run before its images are answered: an answered client that sends again at once is not "in flight" twice. */
  #settle(answer: () => void): void {
    this.#running = false;
    this.#inRun = 0;
    this.#lastRunEnd = performance.now();
    answer();
    // Whatever arrived during the run goes next, together.
    this.#schedule();
  }

  /** `reuse`: the input may go in the shared buffer (only runs that take turns, the queue's, may use it). */
  async #runOnce(views: Float32Array[], reuse = false): Promise<Float32Array[]> {
    const per = views[0]!.length;
    const side = Math.round(Math.sqrt(per / 3));
    let input = views[0]!;
    if (views.length > 1) {
      if (reuse) {
        // Queued runs take turns, so they share one input buffer: a fresh one per run (4.8 MB for a batch of 8 at
        // 224) is zeroed memory and garbage-collector pressure, CPU time taken from the decoding of the next images.
        if ((this.#input?.length ?? 0) < per * views.length) this.#input = new Float32Array(per * views.length);
        input = this.#input!.subarray(0, per * views.length);
      } else {
        input = new Float32Array(per * views.length);
      }
      views.forEach((view, i) => input.set(view, i * per));
    }
    const output = await this.session.run({
      [this.inputName]: new ort.Tensor('float32', input, [views.length, 3, side, side]),
    });
    const tensor = output[this.outputName]!;
    const data = tensor.data as Float32Array;
    const width = data.length / views.length;
    // Copies: the rows outlive the output tensor.
    return views.map((_, i) => data.slice(i * width, (i + 1) * width));
  }
}
