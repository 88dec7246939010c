// GET /api/datasets/{dataset}: image counts by status and train/test counts by label.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { getDatasetSummary } from '../src/dataset/queries';
import { appServices } from '../src/services';

export async function datasetSummary({ services, params }: HttpCall<'dataset'>): Promise<JsonResponse> {
  return ok(await getDatasetSummary(services.catalog, params.dataset));
}

app.http(
  'datasetSummary',
  httpFunction(appServices, {
    methods: ['GET'],
    authLevel: 'function',
    route: 'datasets/{dataset}',
    params: { dataset: 'dataset' },
    handler: datasetSummary,
  }),
);
