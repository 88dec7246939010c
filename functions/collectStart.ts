// POST /api/datasets/{dataset}/collect: start a collection run of the dataset's plan now.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, ok } from '../src/api/responses';
import { assertSameSite } from '../src/api/sameSite';
import { getServices } from '../src/services';

export async function collectStart(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { collector, settings } = await getServices();
    const dataset = request.params['dataset'] ?? '';
    assertSameSite(request, settings.http);
    const { runId, queries } = await collector.startRun(dataset, 'http');
    // Relative to this app: a Host header is the caller's word.
    const statusUrl = `/api/datasets/${dataset}/collect/${runId}`;
    return { ...ok({ runId, queries, statusUrl }, 202), headers: { location: statusUrl } };
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('collectStart', { methods: ['POST'], authLevel: 'function', route: 'datasets/{dataset}/collect', handler: collectStart });
