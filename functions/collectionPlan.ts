// GET and PUT /api/datasets/{dataset}/collection-plan: read, or validate and store, the dataset's plan.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, ok } from '../src/api/responses';
import { assertSameSite } from '../src/api/sameSite';
import { PLAN_LIMITS, synthesizeQueries } from '../src/collect/plan';
import { InvalidArgumentError } from '../src/errors';
import { getServices } from '../src/services';

export async function collectionPlan(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { collector, settings } = await getServices();
    const dataset = request.params['dataset'] ?? '';
    if (request.method === 'GET') {
      const plan = await collector.loadPlan(dataset);
      return ok({ plan, queries: synthesizeQueries(plan) });
    }
    const text = await request.text();
    assertSameSite(request, settings.http, { json: true, hasBody: true });
    if (Buffer.byteLength(text) > PLAN_LIMITS.bytes) {
      return { status: 413, jsonBody: { error: 'PayloadTooLarge', message: `a collection plan has at most ${PLAN_LIMITS.bytes} bytes of JSON; this one has ${Buffer.byteLength(text)}` } };
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new InvalidArgumentError('the request body must be a JSON collection plan');
    }
    const plan = await collector.savePlan(dataset, body);
    return ok({ plan, queries: synthesizeQueries(plan) });
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('collectionPlan', { methods: ['GET', 'PUT'], authLevel: 'function', route: 'datasets/{dataset}/collection-plan', handler: collectionPlan });
