// GET /api/datasets/{dataset}/collect: the dataset's collection runs, newest first.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { appServices } from '../src/services';

export async function collectRuns({ services, params }: HttpCall<'dataset'>): Promise<JsonResponse> {
  return ok({ runs: await services.collector.listRuns(params.dataset) });
}

app.http(
  'collectRuns',
  httpFunction(appServices, {
    methods: ['GET'],
    authLevel: 'function',
    route: 'datasets/{dataset}/collect',
    params: { dataset: 'dataset' },
    handler: collectRuns,
  }),
);
