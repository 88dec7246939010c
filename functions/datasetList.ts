// GET /api/datasets: the datasets that have images.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { appServices } from '../src/services';

export async function datasetList({ services }: HttpCall): Promise<JsonResponse> {
  return ok({ datasets: await services.catalog.listDatasets() });
}

app.http(
  'datasetList',
  httpFunction(appServices, { methods: ['GET'], authLevel: 'function', route: 'datasets', handler: datasetList }),
);
