// GET /api/datasets/{dataset}/models: every stored model version with its metrics summary, and which one serves.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { appServices } from '../src/services';

export async function modelList({ services, params }: HttpCall<'dataset'>): Promise<JsonResponse> {
  return ok(await services.training.models.list(params.dataset, services.catalog));
}

app.http(
  'modelList',
  httpFunction(appServices, {
    methods: ['GET'],
    authLevel: 'function',
    route: 'datasets/{dataset}/models',
    params: { dataset: 'dataset' },
    handler: modelList,
  }),
);
