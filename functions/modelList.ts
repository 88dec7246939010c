// GET /api/datasets/{dataset}/models: every stored model version with its metrics summary, and which one serves.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, ok } from '../src/api/responses';
import { listModels } from '../src/serve/modelCache';
import { getServices } from '../src/services';
import { MODELS_CONTAINER } from '../src/train/models';

export async function modelList(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const services = await getServices();
    const dataset = request.params['dataset'] ?? '';
    return ok(await listModels(services.storage.blobs.getContainerClient(MODELS_CONTAINER), services.training.models, services.catalog, dataset));
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('modelList', { methods: ['GET'], authLevel: 'function', route: 'datasets/{dataset}/models', handler: modelList });
