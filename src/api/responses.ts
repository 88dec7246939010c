// Maps domain results and errors to HTTP responses (plain objects that @azure/functions accepts).
import { ImageRejectedError } from '../dataset/validate';
import { ConfigurationError, InvalidArgumentError, NotFoundError } from '../errors';
import { NoModelError } from '../serve/modelCache';
import { HttpStatusError } from '../serve/request';

export interface JsonResponse {
  status: number;
  jsonBody: unknown;
  headers?: Record<string, string>;
}

export function ok(body: unknown, status = 200): JsonResponse {
  return { status, jsonBody: body };
}

/** A 4xx for errors the caller can fix, a 500 (message kept out of the body) for the rest. */
export function errorResponse(error: unknown, log: (message: string) => void): JsonResponse {
  if (error instanceof HttpStatusError) return { status: error.status, jsonBody: { error: error.error, message: error.message } };
  if (error instanceof NoModelError) return { status: 503, jsonBody: { error: 'NoModel', message: error.message } };
  if (error instanceof ImageRejectedError) {
    const tooLarge = error.code === 'file-too-large';
    return { status: tooLarge ? 413 : 400, jsonBody: { error: tooLarge ? 'PayloadTooLarge' : 'BadRequest', message: error.message, code: error.code } };
  }
  if (error instanceof InvalidArgumentError) return { status: 400, jsonBody: { error: 'BadRequest', message: error.message } };
  if (error instanceof NotFoundError) return { status: 404, jsonBody: { error: 'NotFound', message: error.message } };
  if (error instanceof ConfigurationError) {
    // Setting names and what is wrong with them are no secret, and the caller needs them to get it fixed.
    log(error.message);
    return { status: 500, jsonBody: { error: 'Misconfigured', message: error.message } };
  }
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  return { status: 500, jsonBody: { error: 'InternalError', message: 'an unexpected error occurred; see the function log' } };
}
