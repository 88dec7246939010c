// GET /api/datasets/{dataset}/models/{version}: one stored model version with its files and whole metrics.json;
// DELETE removes a version that does not serve (409 for the serving one, 404 for one not stored).
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { appServices } from '../src/services';

export async function modelVersion({
  request,
  services,
  params,
}: HttpCall<'dataset' | 'version'>): Promise<JsonResponse> {
  const models = services.training.models;
  if (request.method.toUpperCase() === 'DELETE')
    return ok(await models.deleteVersion(params.dataset, params.version, services.training.jobs));
  return ok(await models.version(params.dataset, params.version));
}

app.http(
  'modelVersion',
  httpFunction(appServices, {
    methods: ['GET', 'DELETE'],
    authLevel: 'function',
    route: 'datasets/{dataset}/models/{version}',
    params: { dataset: 'dataset', version: 'text' },
    sameSite: ['DELETE'],
    handler: modelVersion,
  }),
);
