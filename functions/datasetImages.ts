// GET /api/datasets/{dataset}/images?status=&label=&pageSize=&continuationToken=: catalog entries with their reasons.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { listDatasetImages } from '../src/dataset/queries';
import { appServices } from '../src/services';

export async function datasetImages({ request, services, params }: HttpCall<'dataset'>): Promise<JsonResponse> {
  const query = request.query;
  return ok(
    await listDatasetImages(services.catalog, params.dataset, {
      status: query.get('status'),
      label: query.get('label'),
      pageSize: query.get('pageSize'),
      continuationToken: query.get('continuationToken'),
    }),
  );
}

app.http(
  'datasetImages',
  httpFunction(appServices, {
    methods: ['GET'],
    authLevel: 'function',
    route: 'datasets/{dataset}/images',
    params: { dataset: 'dataset' },
    handler: datasetImages,
  }),
);
