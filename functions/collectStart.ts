// POST /api/datasets/{dataset}/collect: start a collection run of the dataset's plan now.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { accepted, type JsonResponse } from '../src/api/responses';
import { appServices } from '../src/services';

export async function collectStart({ services, params }: HttpCall<'dataset'>): Promise<JsonResponse> {
  const { runId, queries } = await services.collector.startRun(params.dataset, 'http');
  const statusUrl = `/api/datasets/${params.dataset}/collect/${runId}`;
  return accepted({ runId, queries, statusUrl }, statusUrl);
}

app.http(
  'collectStart',
  httpFunction(appServices, {
    methods: ['POST'],
    authLevel: 'function',
    route: 'datasets/{dataset}/collect',
    params: { dataset: 'dataset' },
    sameSite: ['POST'],
    handler: collectStart,
  }),
);
