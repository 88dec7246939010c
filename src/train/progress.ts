// A training job's progress as its record reports it: one number from 0 to 1 over the whole job, which only moves
// forward, and the stage the job is in. Each stage owns a span of that number (the trainer's plan); progress inside
// a stage moves through its span, and a stage's work that starts over (the next view set's extraction) never takes
// the number back. Writes go out one at a time, in order, the latest value replacing any not yet written, so that a
// slow store never sees an older value after a newer one.

/** What the record is told: the stage, and the progress over the whole job. */
export interface ProgressChange {
  stage: string;
  progress: number;
}

export class JobProgress {
  private reported = 0;
  private current = '';
  private span: readonly [number, number] = [0, 0];
  private latest: ProgressChange | undefined;
  private writing: Promise<void> | undefined;

  constructor(
    private readonly write: (change: ProgressChange) => Promise<void>,
    /** A write that failed: the job goes on, and the next write says where it is. */
    private readonly onError: (error: unknown) => void,
  ) {}

  /** The stage the job is in. */
  get stage(): string {
    return this.current;
  }

  /** The progress reported last (0 to 1). */
  get value(): number {
    return this.reported;
  }

  /**
   * Enters a stage that spans [from, to] of the job: progress moves to `from` (never back). Entering the stage the
   * job is already in changes nothing. Resolves once the record has it.
   */
  enter(stage: string, from: number, to: number): Promise<void> {
    if (stage === this.current) return this.writing ?? Promise.resolve();
    this.current = stage;
    this.span = [Math.max(from, this.reported), Math.max(to, from, this.reported)];
    return this.report(this.span[0]);
  }

  /** Progress within the current stage: `fraction` (0 to 1) of its span. */
  within(fraction: number): void {
    const [from, to] = this.span;
    void this.report(from + (to - from) * Math.min(1, Math.max(0, fraction)));
  }

  /** Waits until every change so far is written. */
  async flush(): Promise<void> {
    await this.writing;
  }

  private report(progress: number): Promise<void> {
    this.reported = Math.min(1, Math.max(this.reported, progress));
    this.latest = { stage: this.current, progress: this.reported };
    this.writing ??= this.drain();
    return this.writing;
  }

  private async drain(): Promise<void> {
    while (this.latest) {
      const change = this.latest;
      this.latest = undefined;
      try {
        await this.write(change);
      } catch (error) {
        this.onError(error);
      }
    }
    this.writing = undefined;
  }
}
