// Refuses cross-site requests that change state. The local host checks no keys (as `func start` does), so any web
// page a user visits could otherwise POST to it: a form or a `text/plain` fetch needs no preflight. A browser names
// the page's origin in `Origin`; a request from a foreign one is refused unless HTTP_ALLOWED_ORIGINS lists it, and a
// JSON route takes only `application/json` bodies, which no page can send cross-site without a preflight.
import type { HttpSettings } from '../config';
import { ForbiddenOriginError, UnsupportedMediaTypeError } from './errors';

/** What the check reads of a request (an @azure/functions HttpRequest has it). */
export interface RequestLike {
  url: string;
  headers: { get(name: string): string | null };
}

export interface SameSiteOptions {
  /** A JSON route: a body must come as application/json. */
  json?: boolean;
  /** Whether the request has a body (a JSON route with none is fine). */
  hasBody?: boolean;
}

export function assertSameSite(request: RequestLike, settings: HttpSettings, options: SameSiteOptions = {}): void {
  const origin = request.headers.get('origin');
  if (origin !== null) {
    const own = new URL(request.url).origin;
    if (origin !== own && !settings.allowedOrigins.includes(origin)) {
      throw new ForbiddenOriginError(
        `a request from the page origin ${origin} may not change anything here; list it in HTTP_ALLOWED_ORIGINS to allow it`,
      );
    }
  }
  if (options.json && options.hasBody) {
    const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      throw new UnsupportedMediaTypeError(
        `this route takes a JSON body: send it as content-type application/json${type ? `, not ${type}` : ''}`,
      );
    }
  }
}
