// Queue trigger on train-jobs: launches the trainer for one job (locally or as a Container Apps job) and returns.
import { app } from '@azure/functions';

import { appServices, type Services } from '../src/services';
import { TRAIN_JOBS_QUEUE } from '../src/storage/names';
import { launchTraining } from '../src/train/requests';

export async function trainLauncher(message: unknown, { training }: Pick<Services, 'training'>): Promise<void> {
  await launchTraining(training, message);
}

app.storageQueue('trainLauncher', {
  queueName: TRAIN_JOBS_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: async (message) => trainLauncher(message, await appServices()),
});
