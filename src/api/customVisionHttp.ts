// The HTTP edge of the Custom Vision API: one anonymous function per API (training, prediction) whose route takes
// every path below its base (`customvision/{version}/training/{*path}`), handing the request to the Custom Vision
// room (src/customvision), which checks the Training-Key or Prediction-Key itself (the SDKs send no function key).
// Answers are Custom Vision's: JSON in camelCase, and errors as `{code, message}` with its codes and statuses; an
// empty JSON-typed body (what the SDKs send with most calls) is no body.
import type { HttpFunctionOptions, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import {
  createCustomVision,
  type CustomVisionApi,
  type CustomVisionApp,
  type CustomVisionRequest,
  type CustomVisionResponse,
  route,
  toCustomVisionError,
} from '../customvision';
import { CustomVisionError } from '../customvision/errors';
import type { Services, ServicesSource } from '../services';
import { parseClassifyBody } from './request';

/** A JSON body beyond this is refused (64 base64 images of Custom Vision's 6 MB, with room). */
const MAX_JSON_BYTES = 64 * 8.5 * 1024 * 1024;

const built = new WeakMap<Services, CustomVisionApp>();

function customVisionOf(services: Services, context: InvocationContext): CustomVisionApp {
  let app = built.get(services);
  if (!app) {
    app = createCustomVision({
      settings: services.settings,
      blobs: services.storage.blobs,
      catalog: services.catalog,
      ingestor: services.ingestor,
      training: services.training,
      classifier: services.classifier,
      log: (message) => context.warn(message),
    });
    built.set(services, app);
  }
  return app;
}

/** The options for `app.http(name, ...)` of one of the two APIs. */
export function customVisionHttp(services: ServicesSource, api: CustomVisionApi): HttpFunctionOptions {
  return {
    route: `customvision/{version}/${api}/{*path}`,
    methods: ['GET', 'POST', 'DELETE', 'PATCH', 'PUT'],
    authLevel: 'anonymous',
    handler: async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
      try {
        const loaded = await services();
        const app = customVisionOf(loaded, context);
        const answer = await route(app.cv, app.keys, adapt(request, api, loaded.settings.ingest.maxFileBytes));
        return respond(answer);
      } catch (error) {
        const { error: answer, hidden } = toCustomVisionError(error);
        if (hidden) context.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
        return {
          status: answer.status,
          jsonBody: { code: answer.code, message: answer.message },
          headers: { 'content-type': 'application/json; charset=utf-8', ...answer.headers },
        };
      }
    },
  };
}

function adapt(request: HttpRequest, api: CustomVisionApi, maxFileBytes: number): CustomVisionRequest {
  let body: Promise<Buffer> | undefined;
  const bytes = () => (body ??= request.arrayBuffer().then((buffer) => Buffer.from(buffer)));
  const url = new URL(request.url);
  return {
    api,
    version: request.params['version'] ?? '',
    method: request.method,
    path: request.params['path'] ?? '',
    query: request.query,
    header: (name) => request.headers.get(name),
    origin: url.origin,
    images: async (maxBytes = maxFileBytes) =>
      (await parseClassifyBody(request.headers.get('content-type'), await bytes(), maxBytes)).files,
    json: async () => {
      const content = await bytes();
      if (content.length > MAX_JSON_BYTES)
        throw new CustomVisionError(400, 'BadRequestImageBatch', `the body has ${content.length} bytes, too many`);
      const text = content.toString('utf8');
      if (text.trim() === '') return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new CustomVisionError(400, 'BadRequest', 'the request body is not JSON');
      }
    },
  };
}

function respond(answer: CustomVisionResponse): HttpResponseInit {
  if (answer.file) {
    const { stream, contentType, sizeInBytes } = answer.file;
    return {
      status: answer.status,
      body: stream as unknown as Buffer,
      headers: {
        'content-type': contentType,
        ...(sizeInBytes !== undefined ? { 'content-length': String(sizeInBytes) } : {}),
      },
    };
  }
  if (answer.json === undefined) return { status: answer.status };
  return {
    status: answer.status,
    body: JSON.stringify(answer.json),
    headers: { 'content-type': 'application/json; charset=utf-8' },
  };
}
