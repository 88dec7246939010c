// POST /api/datasets/{dataset}/changes/undo: reverts the newest review edit not yet undone (an undo is recorded as a
// change too, so repeated undos walk back through the edits); 404 when none is left, 409 when the image moved on.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { undoLastChange } from '../src/dataset/imageEdits';
import { appServices } from '../src/services';

export async function datasetChangeUndo({ services, params }: HttpCall<'dataset'>): Promise<JsonResponse> {
  return ok(await undoLastChange(services.catalog, params.dataset));
}

app.http(
  'datasetChangeUndo',
  httpFunction(appServices, {
    methods: ['POST'],
    authLevel: 'function',
    route: 'datasets/{dataset}/changes/undo',
    params: { dataset: 'dataset' },
    sameSite: ['POST'],
    handler: datasetChangeUndo,
  }),
);
