// Queue trigger: runs one search job of a collection run (search, safe downloads, drop into incoming/).
import { app, type InvocationContext } from '@azure/functions';

import { appHostConfig } from '../src/platform/hostConfig';
import { appServices, type Services } from '../src/services';
import { SEARCH_JOBS_QUEUE } from '../src/storage/names';

export async function searchWorker(
  job: unknown,
  context: InvocationContext,
  { collector }: Pick<Services, 'collector'>,
): Promise<void> {
  const dequeueCount = Number(context.triggerMetadata?.['dequeueCount'] ?? 1);
  // host.json's extensions.queues.maxDequeueCount: on that try a failure is recorded in the run, not retried.
  const { maxDequeueCount } = appHostConfig().queues;
  await collector.runJob(job, { isLastAttempt: dequeueCount >= maxDequeueCount });
}

app.storageQueue('searchWorker', {
  queueName: SEARCH_JOBS_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: async (job, context) => searchWorker(job, context, await appServices()),
});
