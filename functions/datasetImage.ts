// GET /api/datasets/{dataset}/images/{id}: one catalog entry. PATCH with {"label": ...} and/or {"excluded": true|false}
// relabels an accepted image (it keeps its split) or takes it out of training and evaluation; the edit is recorded
// in the dataset's changes (GET .../changes, undone with POST .../changes/undo).
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { editImage } from '../src/dataset/imageEdits';
import { NotFoundError } from '../src/errors';
import { appServices } from '../src/services';

export async function datasetImage({
  request,
  services,
  params,
  body,
}: HttpCall<'dataset' | 'id'>): Promise<JsonResponse> {
  if (request.method.toUpperCase() === 'PATCH')
    return ok(await editImage(services.catalog, params.dataset, params.id, body));
  await services.catalog.requireStats(params.dataset);
  const found = await services.catalog.getImage(params.dataset, params.id);
  if (!found) throw new NotFoundError(`dataset "${params.dataset}" has no image "${params.id}"`);
  return ok({ id: params.id, ...found.record });
}

app.http(
  'datasetImage',
  httpFunction(appServices, {
    methods: ['GET', 'PATCH'],
    authLevel: 'function',
    route: 'datasets/{dataset}/images/{id}',
    params: { dataset: 'dataset', id: 'imageId' },
    jsonBody: {
      methods: ['PATCH'],
      description: 'JSON like {"label": "shirt"} or {"excluded": true}',
      objectDescription: 'an object like {"label": "shirt"}',
      limit: { bytes: 4096, message: (bytes) => `an image edit is at most 4096 bytes, got ${bytes}` },
    },
    handler: datasetImage,
  }),
);
