// GET /api/datasets/{dataset}/models/{version}/files/{name}: a stored version's file (model.onnx, metrics.json, the
// SVG plots, training.log) streamed with its content type, length and ETag. A version's files never change once
// stored, so caches may keep them; If-None-Match with the current ETag answers 304.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { fileResponse, type JsonResponse, notModified } from '../src/api/responses';
import { appServices } from '../src/services';

/** Private: the routes need a function key, so shared caches must not answer others with the file. */
const IMMUTABLE = 'private, max-age=31536000, immutable';

export async function modelFile({
  request,
  services,
  params,
}: HttpCall<'dataset' | 'version' | 'name'>): Promise<JsonResponse> {
  const file = await services.training.models.openFile(params.dataset, params.version, params.name);
  const caching = { etag: file.etag, 'cache-control': IMMUTABLE };
  if (request.headers.get('if-none-match') === file.etag) {
    // The body is not needed: stop reading it.
    (file.stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    return notModified(caching);
  }
  return fileResponse(file.stream as AsyncIterable<Uint8Array>, {
    ...caching,
    'content-type': file.contentType,
    'content-length': String(file.sizeInBytes),
    ...(file.lastModified ? { 'last-modified': file.lastModified.toUTCString() } : {}),
  });
}

app.http(
  'modelFile',
  httpFunction(appServices, {
    methods: ['GET'],
    authLevel: 'function',
    route: 'datasets/{dataset}/models/{version}/files/{name}',
    params: { dataset: 'dataset', version: 'text', name: 'text' },
    handler: modelFile,
  }),
);
