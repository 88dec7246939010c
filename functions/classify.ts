// POST /api/datasets/{dataset}/classify: the dataset's current model's top predictions for the image(s) in
// the body. A raw image body answers { dataset, modelVersion, predictions, timingInMs }; multipart/form-data
// answers { dataset, modelVersion, results: [...] } with one result per file, in order.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, ok } from '../src/api/responses';
import { assertDatasetName } from '../src/dataset/names';
import { ImageRejectedError } from '../src/dataset/validate';
import { NotFoundError } from '../src/errors';
import { Classifier } from '../src/serve/classifier';
import { ModelCache, NoModelError } from '../src/serve/modelCache';
import { HttpStatusError, parseClassifyBody, parseClassifyQuery } from '../src/serve/request';
import { getServices, type Services } from '../src/services';
import { MODELS_CONTAINER } from '../src/train/models';

let serving: { services: Services; classifier: Classifier } | undefined;

/** One model cache per process (per services instance): sessions are loaded once and shared. */
function classifierFor(services: Services): Classifier {
  if (serving?.services !== services) {
    const cache = new ModelCache(services.training.models, services.storage.blobs.getContainerClient(MODELS_CONTAINER), {
      recheckIntervalInMs: numberSetting('SERVE_MODEL_RECHECK_MS', 5000),
      batch: { windowInMs: numberSetting('SERVE_BATCH_WINDOW_MS', 2), maxBatch: 16 },
      log: (message) => console.error(message),
    });
    serving = { services, classifier: new Classifier(cache, services.settings.ingest) };
  }
  return serving.classifier;
}

function numberSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

export async function classify(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const dataset = request.params['dataset'] ?? '';
  try {
    assertDatasetName(dataset);
    const services = await getServices();
    const body = await parseClassifyBody(request.headers.get('content-type'), Buffer.from(await request.arrayBuffer()), services.settings.ingest.maxFileBytes);
    let outcome;
    try {
      outcome = await classifierFor(services).classify(dataset, body.files, (labels) => parseClassifyQuery(request.query, labels));
    } catch (error) {
      // No model and no catalog entry either: the dataset does not exist (404), rather than "not trained yet" (503).
      if (error instanceof NoModelError && !(await services.catalog.getStats(dataset))) throw new NotFoundError(`dataset "${dataset}" does not exist`);
      throw error;
    }
    if (body.kind === 'raw') {
      const only = outcome.results[0]!;
      return ok({ dataset, modelVersion: outcome.modelVersion, predictions: only.predictions, timingInMs: only.timingInMs });
    }
    return ok({ dataset, modelVersion: outcome.modelVersion, results: outcome.results, timingInMs: outcome.timingInMs });
  } catch (error) {
    return serveErrorResponse(error, (message) => context.error(message));
  }
}

/** The statuses that the shared errorResponse does not know (413, 415, 503, rejected images); the rest go to it. */
export function serveErrorResponse(error: unknown, log: (message: string) => void): HttpResponseInit {
  if (error instanceof HttpStatusError) return { status: error.status, jsonBody: { error: error.error, message: error.message } };
  if (error instanceof NoModelError) return { status: 503, jsonBody: { error: 'NoModel', message: error.message } };
  if (error instanceof ImageRejectedError) {
    const status = error.code === 'file-too-large' ? 413 : 400;
    return { status, jsonBody: { error: status === 413 ? 'PayloadTooLarge' : 'BadRequest', message: error.message, code: error.code } };
  }
  return errorResponse(error, log);
}

app.http('classify', { methods: ['POST'], authLevel: 'function', route: 'datasets/{dataset}/classify', handler: classify });
