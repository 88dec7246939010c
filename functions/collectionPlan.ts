// GET and PUT /api/datasets/{dataset}/collection-plan: read, or validate and store, the dataset's plan.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { PLAN_LIMITS, synthesizeQueries } from '../src/collect/plan';
import { appServices } from '../src/services';

export async function collectionPlan({ request, services, params, body }: HttpCall<'dataset'>): Promise<JsonResponse> {
  const plan =
    request.method === 'GET'
      ? await services.collector.loadPlan(params.dataset)
      : await services.collector.savePlan(params.dataset, body);
  return ok({ plan, queries: synthesizeQueries(plan) });
}

app.http(
  'collectionPlan',
  httpFunction(appServices, {
    methods: ['GET', 'PUT'],
    authLevel: 'function',
    route: 'datasets/{dataset}/collection-plan',
    params: { dataset: 'dataset' },
    jsonBody: {
      methods: ['PUT'],
      description: 'a JSON collection plan',
      limit: {
        bytes: PLAN_LIMITS.bytes,
        message: (bytes) => `a collection plan has at most ${PLAN_LIMITS.bytes} bytes of JSON; this one has ${bytes}`,
      },
    },
    handler: collectionPlan,
  }),
);
