// GET /api/datasets/{dataset}/suspects: training images whose label the current model finds unlikely (with the
// label it proposes), near-identical images with different labels, and the model's test mistakes per label.
// Computed on request (see src/review/suspects.ts for the bounds); same-site only, since it runs the backbone.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { findSuspects } from '../src/review/suspects';
import { appServices } from '../src/services';

export async function datasetSuspects({ services, params }: HttpCall<'dataset'>): Promise<JsonResponse> {
  return ok(await findSuspects(services.suspects, params.dataset));
}

app.http(
  'datasetSuspects',
  httpFunction(appServices, {
    methods: ['GET'],
    authLevel: 'function',
    route: 'datasets/{dataset}/suspects',
    params: { dataset: 'dataset' },
    sameSite: ['GET'],
    handler: datasetSuspects,
  }),
);
