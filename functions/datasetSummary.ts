// GET /api/datasets/{dataset}: image counts by status and train/test counts by label.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, ok } from '../src/api/responses';
import { getDatasetSummary } from '../src/dataset/queries';
import { getServices } from '../src/services';

export async function datasetSummary(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { catalog } = await getServices();
    return ok(await getDatasetSummary(catalog, request.params['dataset'] ?? ''));
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('datasetSummary', { methods: ['GET'], authLevel: 'function', route: 'datasets/{dataset}', handler: datasetSummary });
