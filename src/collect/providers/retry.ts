// Retries for the search providers: exponential backoff with jitter, or the server's Retry-After when it sends one.
// Shared by the Bing and Openverse providers so that both behave the same way on 429 and 5xx.
import { setTimeout as delay } from 'node:timers/promises';

import { AppError } from '../../errors';

export interface RetryOptions {
  /** Retries after the first try: 0 means one try only. */
  maxRetries: number;
  /** The first backoff; each retry doubles it (before jitter). */
  baseDelayInMs: number;
  /** The longest backoff; a Retry-After longer than this makes us give up rather than wait. */
  maxDelayInMs: number;
  /** Injectable so that tests can record the waits instead of sleeping (default: a real, abortable timer). */
  sleep?: Sleep;
  /** In [0, 1); injectable to make the jitter deterministic (default Math.random). */
  random?: () => number;
}

export const DEFAULT_RETRY_OPTIONS: Readonly<RetryOptions> = {
  maxRetries: 4,
  baseDelayInMs: 500,
  maxDelayInMs: 30_000,
};

/** Waits; injectable so that tests can record the waits instead of sleeping. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = async (ms, signal) => {
  await delay(ms, undefined, signal ? { signal } : undefined);
};

/** What the caller's classifier says about one failure. */
export type RetryVerdict =
  | { retry: false }
  /** retryAfterInMs: what the server asked for (Retry-After), if it asked. */
  | { retry: true; retryAfterInMs?: number };

/** Every try failed with a retryable error (or the server asked for a wait longer than maxDelayInMs). */
export class RetriesExhaustedError extends AppError {
  override name = 'RetriesExhaustedError';
  readonly kind = 'upstream-failed';
  constructor(
    /** How many tries were made in all. */
    readonly tries: number,
    readonly lastError: unknown,
    /** Set when we stopped because Retry-After asked for more than maxDelayInMs. */
    readonly refused?: { retryAfterInMs: number; maxDelayInMs: number },
  ) {
    super(
      `gave up after ${tries} ${tries === 1 ? 'try' : 'tries'}` +
        (refused
          ? `: the server asked to wait ${Math.ceil(refused.retryAfterInMs / 1000)} s (Retry-After), longer than maxDelayInMs (${refused.maxDelayInMs} ms)`
          : ''),
    );
  }
}

/** The backoff before retry number `retry` (1-based): base * 2^(retry-1), capped, with "equal jitter" (half fixed, half random). */
export function backoffDelay(retry: number, options: RetryOptions, random: () => number = Math.random): number {
  const exponential = Math.min(options.maxDelayInMs, options.baseDelayInMs * 2 ** (retry - 1));
  return Math.round(exponential / 2 + (exponential / 2) * random());
}

/** Parses Retry-After (delta-seconds or an HTTP date) into milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Runs fn until it succeeds, a failure is not retryable (rethrown as is), or maxRetries retries have failed
 * (RetriesExhaustedError, carrying the last failure). Honours Retry-After when the classifier reports one.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  isRetryable: (error: unknown) => RetryVerdict,
  options: RetryOptions,
  signal?: AbortSignal,
): Promise<T> {
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      // An abort is the caller's decision, never a reason to retry.
      if (signal?.aborted) throw error;
      const verdict = isRetryable(error);
      if (!verdict.retry) throw error;
      if (attempt > options.maxRetries) throw new RetriesExhaustedError(attempt, error);
      const wait = verdict.retryAfterInMs ?? backoffDelay(attempt, options, random);
      // Waiting less than the server asked only earns another 429; waiting much longer stalls a run, so stop.
      if (verdict.retryAfterInMs !== undefined && verdict.retryAfterInMs > options.maxDelayInMs) {
        throw new RetriesExhaustedError(attempt, error, {
          retryAfterInMs: verdict.retryAfterInMs,
          maxDelayInMs: options.maxDelayInMs,
        });
      }
      await sleep(wait, signal);
    }
  }
}
