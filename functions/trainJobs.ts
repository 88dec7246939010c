// GET /api/datasets/{dataset}/jobs: the dataset's latest training jobs (at most 10), newest first.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { appServices } from '../src/services';
import { latestJobs } from '../src/train/requests';

export async function trainJobs({ services, params }: HttpCall<'dataset'>): Promise<JsonResponse> {
  return ok({ dataset: params.dataset, jobs: await latestJobs(services.training, params.dataset) });
}

app.http(
  'trainJobs',
  httpFunction(appServices, {
    methods: ['GET'],
    authLevel: 'function',
    route: 'datasets/{dataset}/jobs',
    params: { dataset: 'dataset' },
    handler: trainJobs,
  }),
);
