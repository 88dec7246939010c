// GET /api/health: the app is up and its storage answers. Anonymous, for load balancers and probes.
import { app } from '@azure/functions';

import { checkHealth } from '../src/api/health';
import { type BareHttpCall, httpFunction } from '../src/api/httpFunction';
import { type JsonResponse, ok } from '../src/api/responses';
import { appServices } from '../src/services';

export async function health({ context, loadServices }: BareHttpCall): Promise<JsonResponse> {
  const report = await checkHealth(loadServices, (message) => context.warn(message));
  return ok(report, report.status === 'ok' ? 200 : 503);
}

// The services on demand: settings that fail to load are what this route reports (503), not an error.
app.http(
  'health',
  httpFunction(appServices, {
    methods: ['GET'],
    authLevel: 'anonymous',
    route: 'health',
    services: 'on-demand',
    handler: health,
  }),
);
