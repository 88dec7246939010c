// One HTTP function as a short declaration. `httpFunction(services, declaration)` turns a route, its methods and auth
// level, which route parameters name datasets, which methods must come from the app's own pages, the JSON body it
// takes and a handler into the options `app.http(name, options)` needs. It owns what every HTTP function would
// otherwise repeat: handing the handler its services, the name checks, the same-site check, reading and parsing JSON
// bodies, and answering errors through the one status table (logged with context.error), so a handler holds only the
// route's own work. The services are injected, as a typed context carries them to a handler (Hono's `c.var`): the
// function files pass the composition root's `appServices` (src/services.ts), a test passes its own, so the HTTP
// layer reads no global and needs no storage of its own.
import type {
  HttpFunctionOptions,
  HttpMethod,
  HttpRequest,
  HttpResponseInit,
  InvocationContext,
} from '@azure/functions';

import type { HttpSettings } from '../config';
import { assertImageId } from '../dataset/catalog';
import { assertDatasetName } from '../dataset/names';
import { InvalidArgumentError, PayloadTooLargeError } from '../errors';
import type { Services, ServicesSource } from '../services';
import { errorResponse, type JsonResponse } from './responses';
import { assertSameSite } from './sameSite';

/**
 * How a route parameter is checked before the handler runs: 'dataset' names a dataset (400 if invalid), 'imageId' is
 * an image's catalog id (400 if malformed, 404 if it names no kind of image row), 'text' anything.
 */
export type RouteParamKind = 'dataset' | 'imageId' | 'text';

const PARAM_CHECKS: Readonly<Record<RouteParamKind, (value: string) => string>> = {
  dataset: assertDatasetName,
  imageId: assertImageId,
  text: (value) => value,
};

/** A request body that is JSON: sent as application/json (415 otherwise), parsed before the handler runs. */
export interface JsonBodyDeclaration {
  /** The methods that carry it (others have no body). */
  methods: readonly HttpMethod[];
  /** What the body must be, for the 400 when it is not JSON: "the request body must be {description}". */
  description: string;
  /** An empty (or blank) body is no body: the handler gets undefined rather than a 400. */
  optional?: boolean;
  /** The JSON must be an object; the 400 for one that is not says "the request body must be {this}, got ...". */
  objectDescription?: string;
  /** A body over `bytes` is refused with 413 and `message(its size)`, before it is parsed. */
  limit?: { bytes: number; message: (bytes: number) => string };
}

/**
 * What httpFunction itself reads of the services: the HTTP settings, for the same-site check. The app's `Services`
 * have it; a test's hand-made services need no more than this and what its handler uses.
 */
export interface HttpServices {
  settings: { http: HttpSettings };
}

/** What every handler gets: the request and its checked parameters and body. */
interface RequestCall<P extends string> {
  request: HttpRequest;
  context: InvocationContext;
  /** The declared route parameters ('' when the route left one empty); dataset names are already checked. */
  params: Readonly<Record<P, string>>;
  /** The parsed JSON body on a method of `jsonBody`; undefined otherwise, or when optional and empty. */
  body: unknown;
}

/**
 * What the handler of an `on-demand` route gets: the request, and the source of the services to start them itself
 * (a failure to start is its to report, as health does).
 */
export interface BareHttpCall<P extends string = never, S extends HttpServices = Services> extends RequestCall<P> {
  loadServices: ServicesSource<S>;
}

/** What a handler gets: the request, its checked parameters and body, and the services it was registered with. */
export interface HttpCall<P extends string = never, S extends HttpServices = Services> extends RequestCall<P> {
  services: S;
}

interface RouteDeclaration<P extends string> {
  route: string;
  methods: HttpMethod[];
  authLevel: 'anonymous' | 'function' | 'admin';
  /** Every route parameter the handler reads, with how it is checked. */
  params?: Readonly<Record<P, RouteParamKind>>;
}

interface ServicesDeclaration<P extends string, S extends HttpServices> extends RouteDeclaration<P> {
  /**
   * Methods whose requests only the app's own pages (or HTTP_ALLOWED_ORIGINS) may send (403 otherwise): those that
   * start work or spend the host's CPU. The methods of `jsonBody` are checked too.
   */
  sameSite?: readonly HttpMethod[];
  jsonBody?: JsonBodyDeclaration;
  /** Started before the handler runs (the default): see BareDeclaration for the other way. */
  services?: undefined;
  handler: (call: HttpCall<P, S>) => Promise<JsonResponse>;
}

/**
 * A route that must answer even when the services cannot start (health): they are not started before its handler,
 * which gets their source instead, and there is no same-site check.
 */
interface BareDeclaration<P extends string, S extends HttpServices> extends RouteDeclaration<P> {
  services: 'on-demand';
  handler: (call: BareHttpCall<P, S>) => Promise<JsonResponse>;
}

export type HttpFunctionDeclaration<P extends string = never, S extends HttpServices = Services> =
  ServicesDeclaration<P, S> | BareDeclaration<P, S>;

/**
 * Where the API lives: host.json's routePrefix is empty so that the web page can be served at `/`, and every API
 * route is declared under this instead (so its URLs are the usual /api/...).
 */
export const API_ROUTE_PREFIX = 'api';

/**
 * The options for `app.http(name, ...)`: the route as declared, with a handler that runs the declaration with the
 * services from `services` (asked on each request; the app's source builds them once, on the first). A source that
 * fails (bad settings: a ConfigurationError) is answered as any error, 500 Misconfigured, except on an `on-demand`
 * route, whose handler asks for them itself.
 */
export function httpFunction<P extends string = never, S extends HttpServices = Services>(
  services: ServicesSource<S>,
  declaration: HttpFunctionDeclaration<P, S>,
): HttpFunctionOptions {
  const { route, methods, authLevel } = declaration;
  return {
    route: `${API_ROUTE_PREFIX}/${route}`,
    methods,
    authLevel,
    handler: async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
      try {
        return await run(declaration, services, request, context);
      } catch (error) {
        return errorResponse(error, (message) => context.error(message));
      }
    },
  };
}

async function run<P extends string, S extends HttpServices>(
  declaration: HttpFunctionDeclaration<P, S>,
  source: ServicesSource<S>,
  request: HttpRequest,
  context: InvocationContext,
): Promise<JsonResponse> {
  if (declaration.services === 'on-demand') {
    const params = checkParams(declaration.params, request);
    return declaration.handler({ request, context, params, body: undefined, loadServices: source });
  }
  const services = await source();
  const method = request.method.toUpperCase() as HttpMethod;
  const json = declaration.jsonBody?.methods.includes(method) ? declaration.jsonBody : undefined;
  // The body is read before the same-site check, which needs to know whether there is one.
  const text = json ? await request.text() : undefined;
  if (json) {
    assertSameSite(request, services.settings.http, {
      json: true,
      hasBody: json.optional ? text!.trim() !== '' : true,
    });
  } else if (declaration.sameSite?.includes(method)) {
    assertSameSite(request, services.settings.http);
  }
  const body = json ? parseJsonBody(json, text!) : undefined;
  return declaration.handler({ request, context, params: checkParams(declaration.params, request), body, services });
}

function parseJsonBody(json: JsonBodyDeclaration, text: string): unknown {
  if (json.optional && text.trim() === '') return undefined;
  const bytes = Buffer.byteLength(text);
  if (json.limit && bytes > json.limit.bytes) throw new PayloadTooLargeError(json.limit.message(bytes));
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError(`the request body must be ${json.description}`);
  }
  if (json.objectDescription !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
    const got = body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body;
    throw new InvalidArgumentError(`the request body must be ${json.objectDescription}, got ${got}`);
  }
  return body;
}

function checkParams<P extends string>(
  declared: Readonly<Record<P, RouteParamKind>> | undefined,
  request: HttpRequest,
): Record<P, string> {
  const params = {} as Record<P, string>;
  for (const [name, kind] of Object.entries(declared ?? {}) as [P, RouteParamKind][]) {
    const value = request.params[name] ?? '';
    params[name] = PARAM_CHECKS[kind](value);
  }
  return params;
}
