// Serves the registered HTTP functions under host.json's route prefix (/api by default), as `func start` does on
// port 7071, and the host's own endpoints (the blob extension's webhook). Routes follow the Functions host's rules
// (an empty route is the function's name; routes are tried in function-name order, the first match wins; literals
// match case-insensitively). Strict, it also answers as Azure does: function keys checked (401, empty body), no
// route for the path and method a 404 with an empty body, and `/` with no function for it the host's home page (204
// when AzureWebJobsDisableHomepage is true); lax, as `func start`: no keys, and JSON 404s and 405s. Both answer only
// the Host names they serve (localhost, 127.0.0.1, [::1] at the port, and `allowedHosts`): any other is a JSON 403,
// so that a page that rebinds its own name to 127.0.0.1 cannot drive the keyless host (DNS rebinding).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import { hostMatches, LOOPBACK_HOSTNAMES, parseHostHeader } from '../api/sameSite';
import { ensureError, messageOf } from '../errors';
import type { FunctionsCore, RegisteredFunction, RpcTypedData } from './functionsCore';
import { type InvocationLog, invokeFunction } from './invoke';
import { type AuthLevel, type HostKeys, keyOpens, presentedKey, systemKeyOpens } from './keys';
import { compareFunctionNames, compileRoute, effectiveRoute, type RouteMatcher, samplePath } from './route';

/** The Functions host's request size limit. */
const MAX_REQUEST_BYTES = 100 * 1024 * 1024;

interface HttpRoute {
  fn: RegisteredFunction;
  methods: Set<string> | undefined;
  matcher: RouteMatcher;
  authLevel: AuthLevel;
}

/** A path the host serves itself, outside /api (the blob extension's webhook), and the system key it takes. */
export interface HostEndpoint {
  systemKey: string;
  handle: HostEndpointHandler;
}

export type HostEndpointHandler = (
  url: URL,
  method: string,
  headers: Readonly<Record<string, string>>,
  body: Buffer,
) => Promise<{ status: number; headers?: Record<string, string>; body?: unknown }>;

export interface HttpTriggerServerOptions {
  host: string;
  port: number;
  /** host.json's extensions.http.routePrefix: "api" by default, "" for routes at the root. */
  routePrefix: string;
  /** Paths (exact) the host answers itself, such as /runtime/webhooks/blobs. */
  hostEndpoints?: Readonly<Record<string, HostEndpoint>>;
  /**
   * Host names answered besides localhost, 127.0.0.1 and [::1] at the listening port (HTTP_ALLOWED_HOSTS: `name`,
   * `name:port`, `.name`); any other Host is a 403, lax or strict, as Vite's and webpack-dev-server's allowedHosts.
   */
  allowedHosts?: readonly string[];
  /** Strict: answer as Azure does, checking these keys. */
  strict?: { keys: HostKeys; homepageDisabled: boolean };
  log: InvocationLog;
  onError: (message: string) => void;
}

export class HttpTriggerServer {
  readonly #routes: HttpRoute[];
  readonly #server: http.Server;
  /** The port listened on (known once listening: 0 picks one). */
  #port = 0;

  constructor(
    private readonly core: FunctionsCore,
    functions: RegisteredFunction[],
    private readonly options: HttpTriggerServerOptions,
  ) {
    this.#routes = functions
      .flatMap((fn) => {
        const binding = Object.values(fn.metadata.bindings).find((b) => b.type === 'httpTrigger');
        if (!binding) return [];
        const methods = Array.isArray(binding['methods'])
          ? new Set((binding['methods'] as string[]).map((m) => m.toUpperCase()))
          : undefined;
        const route = effectiveRoute(fn.metadata.name, binding['route']);
        const path = options.routePrefix
          ? `${options.routePrefix}/${route.replace(/^\//, '')}`
          : route.replace(/^\//, '');
        // @azure/functions always sets authLevel; the host's default for a binding without one is function.
        const authLevel = (binding['authLevel'] as AuthLevel | undefined) ?? 'function';
        return [{ fn, methods, matcher: compileRoute(path), authLevel }];
      })
      .sort((a, b) => compareFunctionNames(a.fn.metadata.name, b.fn.metadata.name));
    // ScriptHost.HttpRoutesConflict: two functions on the same route (case-insensitive) with a method in common.
    this.#routes.forEach((route, i) => {
      const same = this.#routes
        .slice(0, i)
        .find(
          (other) =>
            sameTemplate(other.matcher.template, route.matcher.template) && overlaps(other.methods, route.methods),
        );
      if (same)
        throw new Error(
          `the route of function "${route.fn.metadata.name}" (${route.matcher.template}) conflicts with the route of function "${same.fn.metadata.name}"`,
        );
    });
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        this.options.onError(`http: ${req.method} ${req.url}: ${ensureError(error).stack ?? messageOf(error)}`);
        if (res.headersSent) res.end();
        else
          res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' }).end(
            JSON.stringify({
              error: 'InternalError',
              message: 'the host failed to handle this request; see its log',
            }),
          );
      });
    });
  }

  /** The routes in the order they are tried. */
  get routes(): { name: string; methods: string[]; route: string; authLevel: AuthLevel }[] {
    return this.#routes.map((r) => ({
      name: r.fn.metadata.name,
      methods: r.methods ? [...r.methods] : ['*'],
      route: r.matcher.template,
      authLevel: r.authLevel,
    }));
  }

  /** Routes that an earlier one (in the host's order) takes for some of their requests: worth a warning. */
  get shadowedRoutes(): { name: string; route: string; by: string; path: string }[] {
    return this.#routes.flatMap((route, i) => {
      const path = `/${samplePath(route.matcher.template)}`;
      const earlier = this.#routes
        .slice(0, i)
        .find((other) => overlaps(other.methods, route.methods) && other.matcher.match(path) !== undefined);
      return earlier
        ? [{ name: route.fn.metadata.name, route: route.matcher.template, by: earlier.fn.metadata.name, path }]
        : [];
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.options.port, this.options.host, () => resolve());
    });
    const address = this.#server.address() as AddressInfo;
    this.#port = address.port;
    return `http://${this.options.host}:${address.port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // Errors of the host itself in the app's JSON error shape, so that a client reads every error the same way.
    const fail = (status: number, error: string, message: string, headers: Record<string, string> = {}) =>
      res
        .writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
        .end(JSON.stringify({ error, message }));
    // DNS rebinding: a page on any site can point its own name at 127.0.0.1 and send requests that say
    // `Host: its.name`; only the names this host serves are answered (Azure's front end routes only the app's own).
    const hostProblem = this.#refusedHost(req.headers.host);
    if (hostProblem) {
      req.resume();
      fail(403, 'Forbidden', hostProblem);
      return;
    }
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const strict = this.options.strict;
    // What ASP.NET Core's UnauthorizedResult and NotFoundResult write on Azure: the status, no body.
    const bare = (status: number) => res.writeHead(status, { 'content-length': '0' }).end();
    // The host's own routes (MVC controllers) come before the functions' (WebJobsApplicationBuilderExtension: UseMvc
    // runs before the HTTP binding's router), so no function route shadows them.
    const hostEndpoint = this.options.hostEndpoints?.[url.pathname];
    if (hostEndpoint) {
      if (strict && !systemKeyOpens(strict.keys, hostEndpoint.systemKey, presentedKey(headersOf(req), url))) {
        req.resume();
        bare(401);
        return;
      }
      await this.#serveHostEndpoint(hostEndpoint.handle, url, method, req, res);
      return;
    }
    const candidates = this.#routes
      .map((route) => ({ route, params: route.matcher.match(url.pathname) }))
      .filter((c): c is { route: HttpRoute; params: Record<string, string> } => c.params !== undefined);
    // The first route whose template and methods match (a method is a route constraint on Azure, so a wrong method
    // is no match at all there: 404).
    const chosen = candidates.find((c) => !c.route.methods || c.route.methods.has(method));
    if (!chosen) {
      req.resume();
      if (strict) {
        if (url.pathname === '/') {
          // HomepageMiddleware: `/` with no function for it is the runtime's home page, or 204 when disabled.
          if (strict.homepageDisabled) res.writeHead(204).end();
          else
            res
              .writeHead(200, { 'content-type': 'text/html' })
              .end(
                '<!doctype html><title>Your Functions app is up and running</title><h1>Your Functions app is up and running</h1>',
              );
          return;
        }
        bare(404);
        return;
      }
      if (candidates.length === 0) {
        fail(404, 'NotFound', `no function serves ${url.pathname}`);
        return;
      }
      const allowed = [...new Set(candidates.flatMap((c) => [...(c.route.methods ?? [])]))].sort();
      fail(405, 'MethodNotAllowed', `${method} is not allowed on ${url.pathname}; use ${allowed.join(' or ')}`, {
        allow: allowed.join(', '),
      });
      return;
    }
    if (
      strict &&
      !keyOpens(strict.keys, chosen.route.authLevel, presentedKey(headersOf(req), url), chosen.route.fn.metadata.name)
    ) {
      req.resume();
      bare(401);
      return;
    }
    const body = await readBody(req);
    if (body === undefined) {
      fail(413, 'PayloadTooLarge', `the request body is over the host's limit of ${MAX_REQUEST_BYTES} bytes`);
      return;
    }
    const headers = headersOf(req);
    const response = await invokeFunction(
      this.core,
      chosen.route.fn,
      {
        trigger: {
          http: {
            method,
            url: url.toString(),
            headers,
            query: Object.fromEntries(url.searchParams),
            params: chosen.params,
            body: { bytes: body },
          },
        },
      },
      this.options.log,
    );
    const out = response.returnValue?.http;
    if (!out) {
      res.writeHead(204).end();
      return;
    }
    const responseHeaders: Record<string, string> = { ...(out.headers ?? {}) };
    res.writeHead(Number(out.statusCode ?? 200), responseHeaders);
    res.end(typedDataToBuffer(out.body));
  }

  /** Why a request's Host is not one this host serves; undefined when it is. */
  #refusedHost(value: string | undefined): string | undefined {
    const port = String(this.#port);
    const served = LOOPBACK_HOSTNAMES.map((name) => `${name}:${port}`);
    const host = parseHostHeader(value);
    if (
      host &&
      ((LOOPBACK_HOSTNAMES.includes(host.hostname) && host.port === port) ||
        (this.options.allowedHosts ?? []).some((pattern) => hostMatches(pattern, host)))
    )
      return undefined;
    const named = value === undefined ? 'no Host' : `Host ${JSON.stringify(value.slice(0, 300))}`;
    return (
      `this host serves ${[...served, ...(this.options.allowedHosts ?? [])].join(', ')}, not a request with ${named}: ` +
      'to reach it by another name, add the name to HTTP_ALLOWED_HOSTS (comma-separated: name, name:port or .domain)'
    );
  }

  async #serveHostEndpoint(
    endpoint: HostEndpointHandler,
    url: URL,
    method: string,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> {
    const body = await readBody(req);
    const reply = (status: number, headers: Record<string, string>, payload: unknown) => {
      if (payload === undefined) res.writeHead(status, headers).end();
      else
        res
          .writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
          .end(JSON.stringify(payload));
    };
    if (body === undefined) {
      reply(
        413,
        {},
        {
          error: 'PayloadTooLarge',
          message: `the request body is over the host's limit of ${MAX_REQUEST_BYTES} bytes`,
        },
      );
      return;
    }
    const response = await endpoint(url, method, headersOf(req), body);
    reply(response.status, response.headers ?? {}, response.body);
  }
}

function sameTemplate(a: string, b: string): boolean {
  const trim = (template: string) => template.replace(/^\/+|\/+$/g, '').toLowerCase();
  return trim(a) === trim(b);
}

function overlaps(a: Set<string> | undefined, b: Set<string> | undefined): boolean {
  return !a || !b || [...a].some((method) => b.has(method));
}

function headersOf(req: http.IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function typedDataToBuffer(data: RpcTypedData | null | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  if (data.bytes) return Buffer.from(data.bytes);
  if (typeof data.string === 'string') return Buffer.from(data.string);
  if (typeof data.json === 'string') return Buffer.from(data.json);
  if (typeof data.int === 'number') return Buffer.from(String(data.int));
  if (typeof data.double === 'number') return Buffer.from(String(data.double));
  return Buffer.alloc(0);
}
