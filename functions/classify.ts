// POST /api/datasets/{dataset}/classify: the dataset's current model's top predictions for the image(s) in
// the body (for a multi-label model, the labels over the threshold). A raw image body answers
// { dataset, modelVersion, task, predictions, timingInMs }; multipart/form-data answers
// { dataset, modelVersion, task, results: [...] } with one result per file, in order.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, ok } from '../src/api/responses';
import { assertSameSite } from '../src/api/sameSite';
import { assertDatasetName } from '../src/dataset/names';
import { NotFoundError } from '../src/errors';
import { NoModelError } from '../src/serve/modelCache';
import { parseClassifyBody, parseClassifyQuery } from '../src/serve/request';
import { getServices } from '../src/services';

export async function classify(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const dataset = request.params['dataset'] ?? '';
  try {
    assertDatasetName(dataset);
    const services = await getServices();
    // Classifying changes nothing, but a foreign page could make the host spend its CPU on it.
    assertSameSite(request, services.settings.http);
    const body = await parseClassifyBody(request.headers.get('content-type'), Buffer.from(await request.arrayBuffer()), services.settings.ingest.maxFileBytes);
    let outcome;
    try {
      outcome = await services.classifier.classify(dataset, body.files, (model) => parseClassifyQuery(request.query, model));
    } catch (error) {
      // No model and no catalog entry either: the dataset does not exist (404), rather than "not trained yet" (503).
      if (error instanceof NoModelError && !(await services.catalog.getStats(dataset))) throw new NotFoundError(`dataset "${dataset}" does not exist`);
      throw error;
    }
    const model = { dataset, modelVersion: outcome.modelVersion, task: outcome.task, ...(outcome.threshold !== undefined ? { threshold: outcome.threshold } : {}) };
    if (body.kind === 'raw') {
      const only = outcome.results[0]!;
      return ok({ ...model, predictions: only.predictions, timingInMs: only.timingInMs });
    }
    return ok({ ...model, results: outcome.results, timingInMs: outcome.timingInMs });
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('classify', { methods: ['POST'], authLevel: 'function', route: 'datasets/{dataset}/classify', handler: classify });
