// Queue trigger: runs one search job of a collection run (search, safe downloads, drop into incoming/).
import { app, type InvocationContext } from '@azure/functions';
import { SEARCH_JOBS_QUEUE } from '../src/collect/collector';
import { getServices } from '../src/services';

/** host.json extensions.queues.maxDequeueCount: the try after which a failure is recorded, not retried. */
const MAX_DEQUEUE_COUNT = 5;

export async function searchWorker(job: unknown, context: InvocationContext): Promise<void> {
  const { collector } = await getServices();
  const dequeueCount = Number(context.triggerMetadata?.['dequeueCount'] ?? 1);
  await collector.runJob(job, { isLastAttempt: dequeueCount >= MAX_DEQUEUE_COUNT });
}

app.storageQueue('searchWorker', { queueName: SEARCH_JOBS_QUEUE, connection: 'AzureWebJobsStorage', handler: searchWorker });
