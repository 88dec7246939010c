// Errors of the HTTP edge itself: refusals that are about how a request came (its page origin, its content type),
// not about what it asks the domain to do.
import { AppError } from '../errors';

/** A web page from a foreign origin sent a request that only the app's own pages (or allowed ones) may send. */
export class ForbiddenOriginError extends AppError {
  override name = 'ForbiddenOriginError';
  readonly kind = 'forbidden-origin';
}

/** The body came in a content type this route does not take; the message names the ones it does. */
export class UnsupportedMediaTypeError extends AppError {
  override name = 'UnsupportedMediaTypeError';
  readonly kind = 'unsupported-media-type';
}
