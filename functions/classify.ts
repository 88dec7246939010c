// POST /api/datasets/{dataset}/classify: the dataset's current model's top predictions for the image(s) in
// the body (for a multi-label model, the labels over the threshold). A raw image body answers
// { dataset, modelVersion, task, predictions, timingInMs }; multipart/form-data answers
// { dataset, modelVersion, task, results: [...] } with one result per file, in order.
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { parseClassifyBody, parseClassifyQuery } from '../src/api/request';
import { type JsonResponse, ok } from '../src/api/responses';

export async function classify({ request, services, params }: HttpCall<'dataset'>): Promise<JsonResponse> {
  const { dataset } = params;
  const body = await parseClassifyBody(
    request.headers.get('content-type'),
    Buffer.from(await request.arrayBuffer()),
    services.settings.ingest.maxFileBytes,
  );
  const outcome = await services.classifier.classify(dataset, body.files, (model) =>
    parseClassifyQuery(request.query, model),
  );
  const model = {
    dataset,
    modelVersion: outcome.modelVersion,
    task: outcome.task,
    ...(outcome.threshold !== undefined ? { threshold: outcome.threshold } : {}),
  };
  if (body.kind === 'raw') {
    const only = outcome.results[0]!;
    return ok({ ...model, predictions: only.predictions, timingInMs: only.timingInMs });
  }
  return ok({ ...model, results: outcome.results, timingInMs: outcome.timingInMs });
}

app.http(
  'classify',
  httpFunction({
    methods: ['POST'],
    authLevel: 'function',
    route: 'datasets/{dataset}/classify',
    params: { dataset: 'dataset' },
    // Classifying changes nothing, but a foreign page could make the host spend its CPU on it.
    sameSite: ['POST'],
    handler: classify,
  }),
);
