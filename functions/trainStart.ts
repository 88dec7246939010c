// POST /api/datasets/{dataset}/train: queue a training job (options: backbone, epochs, augmentedViews, augmentation, force).
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, ok } from '../src/api/responses';
import { InvalidArgumentError } from '../src/errors';
import { getServices } from '../src/services';
import { requestTraining } from '../src/train/requests';

export async function trainStart(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { training, catalog } = await getServices();
    const dataset = request.params['dataset'] ?? '';
    const text = await request.text();
    let body: unknown = {};
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        throw new InvalidArgumentError('the request body must be JSON training options (or empty)');
      }
    }
    const job = await requestTraining(training, catalog, dataset, body);
    const statusUrl = `${new URL(request.url).origin}/api/datasets/${dataset}/jobs/${job.jobId}`;
    return { ...ok({ jobId: job.jobId, status: job.status, options: job.options, statusUrl }, 202), headers: { location: statusUrl } };
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('trainStart', { methods: ['POST'], authLevel: 'function', route: 'datasets/{dataset}/train', handler: trainStart });
