// GET /api/datasets: the datasets that have images.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, ok } from '../src/api/responses';
import { getServices } from '../src/services';

export async function datasetList(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { catalog } = await getServices();
    return ok({ datasets: await catalog.listDatasets() });
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('datasetList', { methods: ['GET'], authLevel: 'function', route: 'datasets', handler: datasetList });
