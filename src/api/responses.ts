// Maps domain results and errors to HTTP responses (plain objects that @azure/functions accepts). Errors are
// answered by their kind through the one table in errorStatus.ts, so this file knows no domain module.
import { AppError, ensureError, messageOf } from '../errors';
import { ERROR_STATUS, UNEXPECTED_ERROR_STATUS } from './errorStatus';

export interface JsonResponse {
  status: number;
  /** The JSON answer; undefined for a file answer (`body`) or an empty one. */
  jsonBody: unknown;
  headers?: Record<string, string>;
  /** A file's bytes, sent as they are (with its own content type in `headers`), instead of JSON. */
  body?: AsyncIterable<Uint8Array> | Buffer;
}

export function ok(body: unknown, status = 200): JsonResponse {
  return { status, jsonBody: body };
}

/** A 202 for work started, pointing at its status URL (relative to this app: a Host header is the caller's word). */
export function accepted(body: unknown, statusUrl: string): JsonResponse {
  return { ...ok(body, 202), headers: { location: statusUrl } };
}

/** A file: its bytes (streamed when `body` is a stream) with the headers that describe and cache it. */
export function fileResponse(body: AsyncIterable<Uint8Array> | Buffer, headers: Record<string, string>): JsonResponse {
  return { status: 200, jsonBody: undefined, body, headers };
}

/** 304: the caller's copy (its If-None-Match) is still the current one. */
export function notModified(headers: Record<string, string>): JsonResponse {
  return { status: 304, jsonBody: undefined, headers };
}

/** A 4xx for errors the caller can fix, a 500 (message kept out of the body unless it names a setting) for the rest. */
export function errorResponse(error: unknown, log: (message: string) => void): JsonResponse {
  const entry = error instanceof AppError ? ERROR_STATUS[error.kind] : UNEXPECTED_ERROR_STATUS;
  const headers = entry.retryAfterInS !== undefined ? { headers: { 'retry-after': String(entry.retryAfterInS) } } : {};
  // A hidden error's message may hold internals (a path, a ProgrammingError's broken contract): logged, never sent.
  if (!(error instanceof AppError) || entry.audience === 'hidden') {
    log(ensureError(error).stack ?? messageOf(error));
    return {
      status: entry.status,
      jsonBody: { error: entry.error, code: 'internal', message: 'an unexpected error occurred; see the function log' },
      ...headers,
    };
  }
  // Setting names and what is wrong with them are no secret, and the caller needs them to get it fixed.
  if (entry.audience === 'operator') log(error.message);
  return {
    status: entry.status,
    // An error's own code (an image's rejection reason) is the more precise name; else its kind.
    jsonBody: { error: entry.error, code: error.kind, message: error.message, ...error.details },
    ...headers,
  };
}
