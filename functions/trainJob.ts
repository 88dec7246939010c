// GET /api/datasets/{dataset}/jobs/{jobId}: a training job's status, stage, progress and metrics.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { appServices } from '../src/services';
import { currentJob } from '../src/train/requests';

export async function trainJob({ services, params }: HttpCall<'dataset' | 'jobId'>): Promise<JsonResponse> {
  return ok(await currentJob(services.training, params.dataset, params.jobId));
}

app.http(
  'trainJob',
  httpFunction(appServices, {
    methods: ['GET'],
    authLevel: 'function',
    route: 'datasets/{dataset}/jobs/{jobId}',
    params: { dataset: 'dataset', jobId: 'text' },
    handler: trainJob,
  }),
);
