// GET /api/datasets/{dataset}/changes?limit=: the dataset's review edits, newest first (when, which image, each field
// from what to what, and which were undone).
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { listChanges } from '../src/dataset/imageEdits';
import { InvalidArgumentError } from '../src/errors';
import { appServices } from '../src/services';

export async function datasetChanges({ request, services, params }: HttpCall<'dataset'>): Promise<JsonResponse> {
  const text = request.query.get('limit');
  const limit = text === null ? 100 : Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new InvalidArgumentError(`limit must be an integer from 1 to 1000, got "${text}"`);
  return ok(await listChanges(services.catalog, params.dataset, { limit }));
}

app.http(
  'datasetChanges',
  httpFunction(appServices, {
    methods: ['GET'],
    authLevel: 'function',
    route: 'datasets/{dataset}/changes',
    params: { dataset: 'dataset' },
    handler: datasetChanges,
  }),
);
