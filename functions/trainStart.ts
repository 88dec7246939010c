// POST /api/datasets/{dataset}/train: queue a training job (options: backbone, inputSize, augmentedViews,
// searchBudgetInS, augmentation, force). The status URL is relative to this app: a Host header is the caller's word.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { errorResponse, ok } from '../src/api/responses';
import { assertSameSite } from '../src/api/sameSite';
import { InvalidArgumentError } from '../src/errors';
import { getServices } from '../src/services';
import { requestTraining } from '../src/train/requests';

export async function trainStart(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { training, catalog, settings } = await getServices();
    const dataset = request.params['dataset'] ?? '';
    const text = await request.text();
    assertSameSite(request, settings.http, { json: true, hasBody: text.trim() !== '' });
    let body: unknown = {};
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        throw new InvalidArgumentError('the request body must be JSON training options (or empty)');
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new InvalidArgumentError(`the request body must be a JSON object of training options (or empty), got ${body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body}`);
      }
    }
    const job = await requestTraining(training, catalog, dataset, body);
    const statusUrl = `/api/datasets/${dataset}/jobs/${job.jobId}`;
    return { ...ok({ jobId: job.jobId, status: job.status, options: job.options, statusUrl }, 202), headers: { location: statusUrl } };
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('trainStart', { methods: ['POST'], authLevel: 'function', route: 'datasets/{dataset}/train', handler: trainStart });
