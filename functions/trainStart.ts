// POST /api/datasets/{dataset}/train: queue a training job (options: backbone, inputSize, augmentedViews,
// searchBudgetInS, augmentation, force). The status URL is relative to this app: a Host header is the caller's word.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { accepted, type JsonResponse } from '../src/api/responses';
import { appServices } from '../src/services';
import { requestTraining } from '../src/train/requests';

export async function trainStart({ services, params, body = {} }: HttpCall<'dataset'>): Promise<JsonResponse> {
  const job = await requestTraining(services.training, services.catalog, params.dataset, body);
  const statusUrl = `/api/datasets/${params.dataset}/jobs/${job.jobId}`;
  return accepted({ jobId: job.jobId, status: job.status, options: job.options, statusUrl }, statusUrl);
}

app.http(
  'trainStart',
  httpFunction(appServices, {
    methods: ['POST'],
    authLevel: 'function',
    route: 'datasets/{dataset}/train',
    params: { dataset: 'dataset' },
    jsonBody: {
      methods: ['POST'],
      description: 'JSON training options (or empty)',
      objectDescription: 'a JSON object of training options (or empty)',
      optional: true,
    },
    handler: trainStart,
  }),
);
