// The app's error base and its general error types. Every error the domain throws on purpose is an AppError whose
// `kind` says what went wrong in terms of who can fix it; the HTTP edge (src/api/errorStatus.ts) maps kinds to
// statuses in one table, so nothing there needs to know which module threw what. A `kind` is not a `code`: some
// errors also carry a `code` of their own (ImageRejectedError's rejection reason, a Node-style system code).
import { describeValue } from './util/describeValue';

/** What went wrong, as the edge needs to know it. */
export type ErrorKind =
  /** The caller's request is wrong (a bad name, a bad option); the message says how. */
  | 'invalid-argument'
  /** What the caller asked for does not exist. */
  | 'not-found'
  /** The dataset exists but has no published model yet. */
  | 'no-model'
  /** A body or file is larger than its limit. */
  | 'payload-too-large'
  /** A body came in a content type this route does not take. */
  | 'unsupported-media-type'
  /** The request came from a web page whose origin may not use this route. */
  | 'forbidden-origin'
  /** An image was refused by validation (its `code` says why). */
  | 'image-rejected'
  /** An app setting is missing or invalid; the message names it. */
  | 'misconfigured'
  /** Another writer changed the same record first; the caller's operation may be retried. */
  | 'conflict'
  /** The request clashes with what the resource is now (deleting the serving model, undoing an overwritten edit). */
  | 'state-conflict'
  /** An outside service (a search provider, a download source) failed or refused. */
  | 'upstream-failed'
  /** A download was refused by our own rules (a non-public address, too large, not an image). */
  | 'download-refused'
  /** Data or a model that the code cannot handle (a broken file, an unsupported layer). */
  | 'unsupported-content'
  /** The app's code broke its own contract (a bug): never the caller's fault. */
  | 'programming';

/** The base of the app's errors: `kind` says which sort, the message says what to fix. */
export abstract class AppError extends Error {
  abstract readonly kind: ErrorKind;

  /** Fields an answer may carry besides the message (ImageRejectedError's `code`); none by default. */
  get details(): Readonly<Record<string, string>> | undefined {
    return undefined;
  }
}

/** An app setting is missing or invalid; the message names the setting. */
export class ConfigurationError extends AppError {
  override name = 'ConfigurationError';
  readonly kind = 'misconfigured';
}

/** A caller passed a bad argument (a name with path tricks, an unknown status). */
export class InvalidArgumentError extends AppError {
  override name = 'InvalidArgumentError';
  readonly kind = 'invalid-argument';
}

/** Something the caller asked for does not exist. */
export class NotFoundError extends AppError {
  override name = 'NotFoundError';
  readonly kind = 'not-found';
}

/** A body or file is over its limit; the message names the limit (and its setting, where there is one). */
export class PayloadTooLargeError extends AppError {
  override name = 'PayloadTooLargeError';
  readonly kind = 'payload-too-large';
}

/** The request cannot apply to the resource as it is now (it serves, it changed since); the message says why. */
export class StateConflictError extends AppError {
  override name = 'StateConflictError';
  readonly kind = 'state-conflict';
}

/**
 * The code broke its own contract: a caller inside the app passed what it never should (a negative count, arrays
 * of different lengths). It is a bug, not the request's fault: it answers 500 and is logged, never a 400.
 */
export class ProgrammingError extends AppError {
  override name = 'ProgrammingError';
  readonly kind = 'programming';
}

/** The thrown value as an Error: itself when it is one, else an Error whose message describes it. */
export function ensureError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(`a non-Error value was thrown: ${describeValue(thrown)}`);
}

/** The message of a thrown value, whatever was thrown. */
export function messageOf(thrown: unknown): string {
  return ensureError(thrown).message;
}

/**
 * An argument the caller got wrong, said one way everywhere (as sharp's `invalidParameterError`): which argument,
 * what it should be, and what came instead. The API answers it 400; the CLI prints it.
 */
export function invalidArgument(name: string, expected: string, received: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`expected ${expected} for ${name} but received ${describeReceived(received)}`);
}

/** What came instead: a string quoted (so that "" and " 5" show), bytes counted, null and undefined as they are. */
function describeReceived(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (value === null || value === undefined) return String(value);
  return `${describeValue(value)} of type ${Array.isArray(value) ? 'array' : typeof value}`;
}
