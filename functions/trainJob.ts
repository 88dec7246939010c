// GET /api/datasets/{dataset}/jobs/{jobId}: a training job's status, stage, progress and metrics.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, ok } from '../src/api/responses';
import { assertDatasetName } from '../src/dataset/names';
import { getServices } from '../src/services';
import { currentJob } from '../src/train/requests';

export async function trainJob(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { training } = await getServices();
    const dataset = assertDatasetName(request.params['dataset'] ?? '');
    return ok(await currentJob(training, dataset, request.params['jobId'] ?? ''));
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('trainJob', { methods: ['GET'], authLevel: 'function', route: 'datasets/{dataset}/jobs/{jobId}', handler: trainJob });
