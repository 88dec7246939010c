// GET /api/datasets/{dataset}/images?status=&label=&pageSize=&continuationToken=: catalog entries with their reasons.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, ok } from '../src/api/responses';
import { listDatasetImages } from '../src/dataset/queries';
import { getServices } from '../src/services';

export async function datasetImages(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { catalog } = await getServices();
    return ok(
      await listDatasetImages(catalog, request.params['dataset'] ?? '', {
        status: request.query.get('status'),
        label: request.query.get('label'),
        pageSize: request.query.get('pageSize'),
        continuationToken: request.query.get('continuationToken'),
      }),
    );
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('datasetImages', { methods: ['GET'], authLevel: 'function', route: 'datasets/{dataset}/images', handler: datasetImages });
