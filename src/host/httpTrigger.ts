// Serves the registered HTTP functions under host.json's route prefix (/api by default), as `func start` does on
// port 7071, and the host's own endpoints (the blob extension's webhook).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { FunctionsCore, RegisteredFunction, RpcTypedData } from './functionsCore';
import { type InvocationLog, invokeFunction } from './invoke';
import { compileRoute, type RouteMatcher } from './route';

/** The Functions host's request size limit. */
const MAX_REQUEST_BYTES = 100 * 1024 * 1024;

interface HttpRoute {
  fn: RegisteredFunction;
  methods: Set<string> | undefined;
  matcher: RouteMatcher;
}

/** A path the host serves itself, outside /api (the blob extension's webhook). */
export type HostEndpoint = (
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
  log: InvocationLog;
  onError: (message: string) => void;
}

export class HttpTriggerServer {
  readonly #routes: HttpRoute[];
  readonly #server: http.Server;

  constructor(
    private readonly core: FunctionsCore,
    functions: RegisteredFunction[],
    private readonly options: HttpTriggerServerOptions,
  ) {
    this.#routes = functions.flatMap((fn) => {
      const binding = Object.values(fn.metadata.bindings).find((b) => b.type === 'httpTrigger');
      if (!binding) return [];
      const methods = Array.isArray(binding['methods'])
        ? new Set((binding['methods'] as string[]).map((m) => m.toUpperCase()))
        : undefined;
      const route = typeof binding['route'] === 'string' ? binding['route'] : fn.metadata.name;
      const path = options.routePrefix
        ? `${options.routePrefix}/${route.replace(/^\//, '')}`
        : route.replace(/^\//, '');
      return [{ fn, methods, matcher: compileRoute(path) }];
    });
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        this.options.onError(`http: ${req.method} ${req.url}: ${(error as Error).stack ?? String(error)}`);
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

  get routes(): { name: string; methods: string[]; route: string }[] {
    return this.#routes.map((r) => ({
      name: r.fn.metadata.name,
      methods: r.methods ? [...r.methods] : ['*'],
      route: r.matcher.template,
    }));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.options.port, this.options.host, () => resolve());
    });
    const address = this.#server.address() as AddressInfo;
    return `http://${this.options.host}:${address.port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const hostEndpoint = this.options.hostEndpoints?.[url.pathname];
    if (hostEndpoint) {
      await this.#serveHostEndpoint(hostEndpoint, url, method, req, res);
      return;
    }
    const candidates = this.#routes
      .map((route) => ({ route, params: route.matcher.match(url.pathname) }))
      .filter((c): c is { route: HttpRoute; params: Record<string, string> } => c.params !== undefined);
    // Errors of the host itself in the app's JSON error shape, so that a client reads every error the same way.
    const fail = (status: number, error: string, message: string, headers: Record<string, string> = {}) =>
      res
        .writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
        .end(JSON.stringify({ error, message }));
    if (candidates.length === 0) {
      fail(404, 'NotFound', `no function serves ${url.pathname}`);
      return;
    }
    const chosen = candidates.find((c) => !c.route.methods || c.route.methods.has(method));
    if (!chosen) {
      const allowed = [...new Set(candidates.flatMap((c) => [...(c.route.methods ?? [])]))].sort();
      fail(405, 'MethodNotAllowed', `${method} is not allowed on ${url.pathname}; use ${allowed.join(' or ')}`, {
        allow: allowed.join(', '),
      });
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

  async #serveHostEndpoint(
    endpoint: HostEndpoint,
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
