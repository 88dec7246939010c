// Queue trigger on train-jobs: launches the trainer for one job (locally or as a Container Apps job) and returns.
import { app } from '@azure/functions';

import { getServices } from '../src/services';
import { TRAIN_JOBS_QUEUE } from '../src/storage/names';
import { launchTraining } from '../src/train/requests';

export async function trainLauncher(message: unknown): Promise<void> {
  const { training } = await getServices();
  await launchTraining(training, message);
}

app.storageQueue('trainLauncher', {
  queueName: TRAIN_JOBS_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: trainLauncher,
});
