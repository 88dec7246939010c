// The trainer's entry point (the container's command, and what the local launcher runs):
//   TRAIN_DATASET=<dataset> TRAIN_JOB_ID=<job> AzureWebJobsStorage=<connection> node dist/src/train/main.js
import { loadTrainerJobSettings, processSettings } from '../config';
import { createServices } from '../services';
import { FEATURES_CONTAINER, INCOMING_CONTAINER } from '../storage/names';
import { BlobFeatureCache } from './featureCache';
import { runTrainingJob } from './trainer';

async function main(): Promise<void> {
  const { dataset, jobId } = loadTrainerJobSettings();
  const services = await createServices(processSettings());
  await runTrainingJob(
    {
      catalog: services.catalog,
      incoming: services.storage.blobs.getContainerClient(INCOMING_CONTAINER),
      jobs: services.training.jobs,
      models: services.training.models,
      backbones: services.training.backbones,
      features: new BlobFeatureCache(services.storage.blobs.getContainerClient(FEATURES_CONTAINER)),
      executionProviders: services.settings.train.executionProviders,
    },
    dataset,
    jobId,
  );
}

main().catch((error: unknown) => {
  console.error(`trainer: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
