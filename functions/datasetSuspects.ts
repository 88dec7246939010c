// GET /api/datasets/{dataset}/suspects: training images whose label the current model finds unlikely (with the
// label it proposes), near-identical images with different labels, and the model's test mistakes per label.
// Computed on request (see src/review/suspects.ts for the bounds); same-site only, since it runs the backbone.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { findSuspects } from '../src/review/suspects';
import { FEATURES_CONTAINER, INCOMING_CONTAINER } from '../src/storage/names';
import { BlobFeatureCache } from '../src/train/featureCache';

export async function datasetSuspects({ services, params }: HttpCall<'dataset'>): Promise<JsonResponse> {
  const blobs = services.storage.blobs;
  return ok(
    await findSuspects(
      {
        catalog: services.catalog,
        incoming: blobs.getContainerClient(INCOMING_CONTAINER),
        models: services.training.models,
        classifier: services.classifier,
        dedup: services.settings.dedup,
        features: new BlobFeatureCache(blobs.getContainerClient(FEATURES_CONTAINER)),
      },
      params.dataset,
    ),
  );
}

app.http(
  'datasetSuspects',
  httpFunction({
    methods: ['GET'],
    authLevel: 'function',
    route: 'datasets/{dataset}/suspects',
    params: { dataset: 'dataset' },
    sameSite: ['GET'],
    handler: datasetSuspects,
  }),
);
