// Queue trigger: runs one search job of a collection run (search, safe downloads, drop into incoming/).
import { app, type InvocationContext } from '@azure/functions';
import { SEARCH_JOBS_QUEUE } from '../src/collect/collector';
import { findHostJson, readHostConfig } from '../src/host/hostConfig';
import { getServices } from '../src/services';

/** host.json's extensions.queues.maxDequeueCount: on that try a failure is recorded in the run, not retried. */
const MAX_DEQUEUE_COUNT = readHostConfig(findHostJson(__dirname)).queues.maxDequeueCount;

export async function searchWorker(job: unknown, context: InvocationContext): Promise<void> {
  const { collector } = await getServices();
  const dequeueCount = Number(context.triggerMetadata?.['dequeueCount'] ?? 1);
  await collector.runJob(job, { isLastAttempt: dequeueCount >= MAX_DEQUEUE_COUNT });
}

app.storageQueue('searchWorker', { queueName: SEARCH_JOBS_QUEUE, connection: 'AzureWebJobsStorage', handler: searchWorker });
