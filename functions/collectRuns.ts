// GET /api/datasets/{dataset}/collect: the dataset's collection runs, newest first.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, ok } from '../src/api/responses';
import { getServices } from '../src/services';

export async function collectRuns(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { collector } = await getServices();
    return ok({ runs: await collector.listRuns(request.params['dataset'] ?? '') });
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('collectRuns', { methods: ['GET'], authLevel: 'function', route: 'datasets/{dataset}/collect', handler: collectRuns });
