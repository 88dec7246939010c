// GET /api/datasets/{dataset}/collect/{runId}: a run's progress and results.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { appServices } from '../src/services';

export async function collectStatus({ services, params }: HttpCall<'dataset' | 'runId'>): Promise<JsonResponse> {
  return ok(await services.collector.getRun(params.dataset, params.runId));
}

app.http(
  'collectStatus',
  httpFunction(appServices, {
    methods: ['GET'],
    authLevel: 'function',
    route: 'datasets/{dataset}/collect/{runId}',
    params: { dataset: 'dataset', runId: 'text' },
    handler: collectStatus,
  }),
);
