// POST /api/datasets/{dataset}/classify: the dataset's current model's top predictions for the image(s) in
// the body (for a multi-label model, the labels over the threshold). A raw image body answers
// { dataset, modelVersion, task, predictions, timingInMs }; multipart/form-data answers
// { dataset, modelVersion, task, results: [...], timingInMs } with one result per file, in order (a bad file's
// result names it, with its error, while the others are classified).
import { app } from '@azure/functions';

import { multipartAnswer, rawAnswer } from '../src/api/classifyAnswer';
import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { parseClassifyBody, parseClassifyQuery } from '../src/api/request';
import { type JsonResponse, ok } from '../src/api/responses';
import type { ServedModelInfo } from '../src/serve/classifier';
import { appServices, warmUpServing } from '../src/services';

export async function classify({ request, services, params }: HttpCall<'dataset'>): Promise<JsonResponse> {
  const { dataset } = params;
  const body = await parseClassifyBody(
    request.headers.get('content-type'),
    Buffer.from(await request.arrayBuffer()),
    services.settings.ingest.maxFileBytes,
  );
  const options = (model: ServedModelInfo) => parseClassifyQuery(request.query, model);
  if (body.kind === 'raw') return ok(rawAnswer(await services.classifier.classify(dataset, body.files, options)));
  return ok(multipartAnswer(await services.classifier.classifyEach(dataset, body.files, options)));
}

app.http(
  'classify',
  httpFunction(appServices, {
    methods: ['POST'],
    authLevel: 'function',
    route: 'datasets/{dataset}/classify',
    params: { dataset: 'dataset' },
    // Classifying changes nothing, but a foreign page could make the host spend its CPU on it.
    sameSite: ['POST'],
    handler: classify,
  }),
);

// A new instance loads its models while the host starts rather than on its first request (SERVE_WARM_UP).
app.hook.appStart(() => warmUpServing(appServices));
