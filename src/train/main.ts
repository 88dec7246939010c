// The trainer's entry point (the container's command, and what the local launcher runs):
//   TRAIN_DATASET=<dataset> TRAIN_JOB_ID=<job> AzureWebJobsStorage=<connection> node dist/src/train/main.js
// It builds, through the composition root, only what a training job uses (createTrainerServices), not the app's
// services: no ingestor, collector, classifier or launcher in a trainer process.
import { loadTrainerJobSettings, processSettings } from '../config';
import { messageOf } from '../errors';
import { createTrainerServices } from '../services';
import { runTrainingJob } from './trainer';

async function main(): Promise<void> {
  const { dataset, jobId } = loadTrainerJobSettings();
  await runTrainingJob(await createTrainerServices(processSettings()), dataset, jobId);
}

main().catch((error: unknown) => {
  console.error(`trainer: ${messageOf(error)}`);
  process.exit(1);
});
