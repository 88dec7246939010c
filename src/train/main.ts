// The trainer's entry point (the container's command, and what the local launcher runs):
//   TRAIN_DATASET=<dataset> TRAIN_JOB_ID=<job> AzureWebJobsStorage=<connection> node dist/src/train/main.js
import { createServices } from '../services';
import { INCOMING_CONTAINER } from '../dataset/ingest';
import { BlobFeatureCache, FEATURES_CONTAINER } from './featureCache';
import { runTrainingJob } from './trainer';

async function main(): Promise<void> {
  const dataset = process.env['TRAIN_DATASET'];
  const jobId = process.env['TRAIN_JOB_ID'];
  if (!dataset || !jobId) throw new Error('TRAIN_DATASET and TRAIN_JOB_ID must be set (the launcher sets them)');
  const services = await createServices();
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
