// GET /api/health: the app is up and its storage answers. Anonymous, for load balancers and probes.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { checkHealth } from '../src/api/health';
import { getServices } from '../src/services';

export async function health(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const report = await checkHealth(getServices, (message) => context.warn(message));
  return { status: report.status === 'ok' ? 200 : 503, jsonBody: report };
}

app.http('health', { methods: ['GET'], authLevel: 'anonymous', route: 'health', handler: health });
