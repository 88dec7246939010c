// Custom Vision's errors: `{code, message}` with its codes (CustomVisionErrorCodes in the SDKs) and its HTTP
// statuses. The domain's own errors are translated here by kind, so the operations throw what they always throw.
import { ImageRejectedError } from '../dataset/validate';
import { AppError, type ErrorKind } from '../errors';

/** An answer in Custom Vision's terms: its status, its code and a message. */
export class CustomVisionError extends Error {
  override name = 'CustomVisionError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** What is not supported here: 501, naming the operation (the SDKs do not retry a 501). */
export function notSupported(operation: string): CustomVisionError {
  return new CustomVisionError(501, 'BadRequestNotSupported', `${operation} is not supported by this app`);
}

export function notFound(code: string, message: string): CustomVisionError {
  return new CustomVisionError(404, code, message);
}

const BY_KIND: Readonly<Record<ErrorKind, { status: number; code: string; shown: boolean }>> = {
  'invalid-argument': { status: 400, code: 'BadRequest', shown: true },
  'image-rejected': { status: 400, code: 'BadRequestImageFormat', shown: true },
  'forbidden-origin': { status: 403, code: 'Forbidden', shown: true },
  'not-found': { status: 404, code: 'NotFound', shown: true },
  'payload-too-large': { status: 400, code: 'BadRequestImageSizeBytes', shown: true },
  'unsupported-media-type': { status: 415, code: 'UnsupportedMediaType', shown: true },
  'no-model': { status: 404, code: 'NotFoundIteration', shown: true },
  misconfigured: { status: 500, code: 'ErrorInvalid', shown: true },
  'state-conflict': { status: 409, code: 'Conflict', shown: true },
  conflict: { status: 503, code: 'ErrorServerTimeOut', shown: true },
  'upstream-failed': { status: 400, code: 'BadRequestImageUrl', shown: true },
  'download-refused': { status: 400, code: 'BadRequestImageUrl', shown: true },
  'unsupported-content': { status: 500, code: 'ErrorUnknown', shown: false },
  programming: { status: 500, code: 'ErrorUnknown', shown: false },
};

/** Ingest's rejection codes as Custom Vision's request error codes. */
const REJECTION_CODES: Readonly<Record<string, string>> = {
  'file-too-large': 'BadRequestImageSizeBytes',
  'too-many-pixels': 'BadRequestImageSizeBytes',
  'too-small': 'BadRequestImageDimensions',
  'too-thin': 'BadRequestImageAspectRatio',
};

/** Ingest's rejection codes as Custom Vision's per-image statuses (ImageCreateStatus). */
export function imageCreateStatusFor(rejectionCode: string | undefined): string {
  switch (rejectionCode) {
    case 'file-too-large':
    case 'too-many-pixels':
      return 'ErrorImageSize';
    case 'too-small':
    case 'too-thin':
      return 'ErrorImageDimensions';
    case 'invalid-name':
      return 'ErrorUnknown';
    default:
      return 'ErrorImageFormat';
  }
}

/** Any error as Custom Vision's answer; `shown: false` for the ones whose message stays in the log. */
export function toCustomVisionError(error: unknown): { error: CustomVisionError; hidden: boolean } {
  if (error instanceof CustomVisionError) return { error, hidden: false };
  if (error instanceof ImageRejectedError) {
    return {
      error: new CustomVisionError(400, REJECTION_CODES[error.code] ?? 'BadRequestImageFormat', error.message),
      hidden: false,
    };
  }
  if (error instanceof AppError) {
    const entry = BY_KIND[error.kind];
    if (entry.shown) {
      const headers: Record<string, string> = error.kind === 'conflict' ? { 'retry-after': '1' } : {};
      return { error: new CustomVisionError(entry.status, entry.code, error.message, headers), hidden: false };
    }
  }
  return {
    error: new CustomVisionError(500, 'ErrorUnknown', 'an unexpected error occurred; see the function log'),
    hidden: true,
  };
}
