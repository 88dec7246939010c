// Refuses cross-site requests that change state. The local host checks no keys (as `func start` does), so any web
// page a user visits could otherwise POST to it: a form or a `text/plain` fetch needs no preflight. A browser names
// the page's origin in `Origin`; it must be one of the origins the app serves, else the request is refused. Those
// are never read off the request's Host header alone: a page can rebind its own name to 127.0.0.1 (DNS rebinding)
// and send `Host: evil.example` with `Origin: http://evil.example`. They are HTTP_ALLOWED_ORIGINS, the app's own
// hostname (WEBSITE_HOSTNAME: App Service sets it, Core Tools sets localhost:<port>), HTTP_ALLOWED_HOSTS, and a
// loopback name (localhost, 127.0.0.1, [::1]) when it is the request's own origin, which no other site can have.
// A JSON route also takes only `application/json` bodies, which no page can send cross-site without a preflight.
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

/** The names every local host answers to, at its own port. */
export const LOOPBACK_HOSTNAMES: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** A host name and port as a request names them (the port always given: 80 or 443 when left out). */
export interface HostAndPort {
  /** Lower case; an IPv6 address in brackets, as in a URL. */
  hostname: string;
  port: string;
}

/**
 * Whether `host` is one an entry of HTTP_ALLOWED_HOSTS names: `name` (any port), `name:port`, or `.name` (the name
 * and every name under it, as Vite's and webpack-dev-server's allowedHosts take them).
 */
export function hostMatches(pattern: string, host: HostAndPort): boolean {
  const colon = pattern.lastIndexOf(':');
  const hasPort = colon > pattern.lastIndexOf(']');
  const name = (hasPort ? pattern.slice(0, colon) : pattern).toLowerCase();
  if (hasPort && pattern.slice(colon + 1) !== host.port) return false;
  if (name.startsWith('.')) return host.hostname === name.slice(1) || host.hostname.endsWith(name);
  return host.hostname === name;
}

/** A Host header's name and port; undefined when it is no `name[:port]` (a path, user info, spaces...). */
export function parseHostHeader(value: string | undefined, defaultPort = '80'): HostAndPort | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d{1,5}))?$/i.exec(value ?? '');
  if (!match) return undefined;
  return { hostname: match[1]!.toLowerCase(), port: match[2] ?? defaultPort };
}

export function assertSameSite(request: RequestLike, settings: HttpSettings, options: SameSiteOptions = {}): void {
  const origin = request.headers.get('origin');
  if (origin !== null && !servesOrigin(request, settings, origin)) {
    throw new ForbiddenOriginError(
      `a request from the page origin ${origin} may not change anything here; list it in HTTP_ALLOWED_ORIGINS to allow it`,
    );
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

/** Whether `origin` is one of the origins the app serves (see the top of this file). */
function servesOrigin(request: RequestLike, settings: HttpSettings, origin: string): boolean {
  if (settings.allowedOrigins.includes(origin)) return true;
  const page = originHost(origin);
  if (!page) return false;
  const own = settings.ownHostname ? parseHostHeader(settings.ownHostname, page.port) : undefined;
  if (own) {
    if (own.hostname === page.hostname && own.port === page.port) return true;
    // Core Tools' localhost:<port> is served at the other loopback names too.
    if (
      LOOPBACK_HOSTNAMES.includes(own.hostname) &&
      LOOPBACK_HOSTNAMES.includes(page.hostname) &&
      own.port === page.port
    )
      return true;
  }
  if ((settings.allowedHosts ?? []).some((pattern) => hostMatches(pattern, page))) return true;
  let requestOrigin: string | undefined;
  try {
    requestOrigin = new URL(request.url).origin;
  } catch {
    requestOrigin = undefined;
  }
  return LOOPBACK_HOSTNAMES.includes(page.hostname) && origin === requestOrigin;
}

/** An http(s) origin's host and port (80 or 443 when left out); undefined for `null` and other schemes. */
function originHost(origin: string): HostAndPort | undefined {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== origin) return undefined;
  return { hostname: url.hostname.toLowerCase(), port: url.port || (url.protocol === 'https:' ? '443' : '80') };
}
