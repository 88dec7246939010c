// The one table from error kinds to HTTP answers: the status and the `error` name of the JSON body, and whether the
// message may be shown. Every answer also carries `code`, a stable machine-readable name a client can branch on: the
// error's own code where it has one (an image's rejection reason), else its kind (`internal` for the hidden ones).
// Adding an ErrorKind without a row here does not compile.
import type { ErrorKind } from '../errors';

export interface ErrorStatus {
  status: number;
  /** The `error` field of the body. */
  error: string;
  /**
   * 'caller': the caller can fix it; the message is the answer. 'operator': the message is shown (it names a
   * setting, no secret) and logged. 'hidden': the message may hold internals; it is logged, and the body says so.
   */
  audience: 'caller' | 'operator' | 'hidden';
  /** Seconds after which the same request may succeed (Retry-After): for contention that passes. */
  retryAfterInS?: number;
}

export const ERROR_STATUS: Readonly<Record<ErrorKind, ErrorStatus>> = {
  'invalid-argument': { status: 400, error: 'BadRequest', audience: 'caller' },
  'image-rejected': { status: 400, error: 'BadRequest', audience: 'caller' },
  'forbidden-origin': { status: 403, error: 'Forbidden', audience: 'caller' },
  'not-found': { status: 404, error: 'NotFound', audience: 'caller' },
  'payload-too-large': { status: 413, error: 'PayloadTooLarge', audience: 'caller' },
  'unsupported-media-type': { status: 415, error: 'UnsupportedMediaType', audience: 'caller' },
  'no-model': { status: 503, error: 'NoModel', audience: 'caller' },
  misconfigured: { status: 500, error: 'Misconfigured', audience: 'operator' },
  'state-conflict': { status: 409, error: 'Conflict', audience: 'caller' },
  // Optimistic concurrency lost after its retries (many writers at once): the request itself was fine.
  conflict: { status: 503, error: 'Busy', audience: 'caller', retryAfterInS: 1 },
  'upstream-failed': { status: 500, error: 'InternalError', audience: 'hidden' },
  'download-refused': { status: 500, error: 'InternalError', audience: 'hidden' },
  'unsupported-content': { status: 500, error: 'InternalError', audience: 'hidden' },
  programming: { status: 500, error: 'InternalError', audience: 'hidden' },
};

/** What errors that are no AppError (bugs, storage failures) answer. */
export const UNEXPECTED_ERROR_STATUS: ErrorStatus = { status: 500, error: 'InternalError', audience: 'hidden' };
