// GET /api/datasets/{dataset}/collect/{runId}: a run's progress and results.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, ok } from '../src/api/responses';
import { getServices } from '../src/services';

export async function collectStatus(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { collector } = await getServices();
    return ok(await collector.getRun(request.params['dataset'] ?? '', request.params['runId'] ?? ''));
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('collectStatus', { methods: ['GET'], authLevel: 'function', route: 'datasets/{dataset}/collect/{runId}', handler: collectStatus });
