// The `containerapps` launcher: starts an execution of an Azure Container Apps job (serverless GPU) through Azure
// Resource Manager, with the job's identity passed as environment overrides, and reads how the execution stands.
import { ContainerAppsAPIClient, type ContainerAppsAPIClientOptionalParams } from '@azure/arm-appcontainers';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';

import { type AppSettings, storageConnectionSettings } from '../../config';
import { ConfigurationError, InvalidArgumentError } from '../../errors';
import {
  type Launched,
  type Launcher,
  type LauncherDefinition,
  type LaunchRequest,
  trainerEnvironment,
} from './launcher';

export interface ContainerAppsLauncherOptions {
  subscriptionId: string;
  resourceGroup: string;
  /** The Container Apps job whose template runs the trainer image. */
  jobName: string;
  /** Name of the trainer container in the job's template (its env gets the job's identity). */
  containerName: string;
  /** The trainer image (an execution's template replaces the job template's containers, so it is given in full). */
  image: string;
  /** Plain environment variables for the trainer (settings that are no secret). */
  environment?: Record<string, string>;
  /** Environment variables taken from the job's secrets: variable name → secret name (connection strings). */
  secretEnvironment?: Record<string, string>;
  /** Default: DefaultAzureCredential (managed identity on Azure, developer sign-in locally). */
  credential?: TokenCredential;
  /** Passed to the ARM client (endpoint, agent, retry options...). */
  clientOptions?: ContainerAppsAPIClientOptionalParams;
}

/** Starts an execution of an Azure Container Apps job through Azure Resource Manager. */
export class ContainerAppsLauncher implements Launcher {
  readonly name = 'containerapps';
  readonly #client: ContainerAppsAPIClient;

  constructor(private readonly options: ContainerAppsLauncherOptions) {
    for (const field of ['subscriptionId', 'resourceGroup', 'jobName', 'containerName', 'image'] as const) {
      if (!options[field]) throw new InvalidArgumentError(`ContainerAppsLauncher: ${field} is required`);
    }
    this.#client = new ContainerAppsAPIClient(
      options.credential ?? new DefaultAzureCredential(),
      options.subscriptionId,
      options.clientOptions,
    );
  }

  async launch(request: LaunchRequest): Promise<Launched> {
    const env = [
      ...Object.entries({ ...this.options.environment, ...trainerEnvironment(request) }).map(([name, value]) => ({
        name,
        value,
      })),
      ...Object.entries(this.options.secretEnvironment ?? {}).map(([name, secretRef]) => ({ name, secretRef })),
    ];
    const execution = await this.#client.jobs.beginStartAndWait(this.options.resourceGroup, this.options.jobName, {
      template: { containers: [{ name: this.options.containerName, image: this.options.image, env }] },
      updateIntervalInMs: 1000,
    });
    if (!execution.name) throw new Error(`Azure did not return an execution name for job ${this.options.jobName}`);
    return { executionName: execution.name };
  }

  async executionState(executionName: string): Promise<'running' | 'ended' | 'failed'> {
    const execution = await this.#client.jobExecution(this.options.resourceGroup, this.options.jobName, executionName);
    switch (execution.status) {
      case 'Succeeded':
        return 'ended';
      case 'Failed':
      case 'Stopped':
      case 'Degraded':
        return 'failed';
      default:
        return 'running';
    }
  }
}

/**
 * The launcher's options from the app settings. With an identity-based storage connection the trainer gets the
 * service URIs and the identity's client id, and no secret (the job runs as the same user-assigned identity:
 * infra/app/trainer.bicep). With a connection string, the job keeps it as its secret "storage-connection", which
 * whoever set up the job must have set.
 */
export function containerAppsOptions(settings: AppSettings): ContainerAppsLauncherOptions {
  const train = settings.train;
  // The settings check that these are set whenever TRAIN_LAUNCHER is containerapps.
  if (train.launcher !== 'containerapps') {
    throw new ConfigurationError(`TRAIN_LAUNCHER is ${train.launcher}, not containerapps`);
  }
  const environment = { TRAIN_EXECUTION_PROVIDERS: train.executionProviders.join(',') };
  const { subscriptionId, resourceGroup, jobName, containerName, image } = train;
  const job = { subscriptionId, resourceGroup, jobName, containerName, image };
  return settings.storage.kind === 'identity'
    ? { ...job, environment: { ...environment, ...storageConnectionSettings(settings.storage) } }
    : { ...job, environment, secretEnvironment: { AzureWebJobsStorage: 'storage-connection' } };
}

/** The registry's `containerapps`: the job named by the TRAIN_CONTAINERAPPS_* settings. */
export const containerAppsLauncher = {
  name: 'containerapps',
  create: ({ settings }) => new ContainerAppsLauncher(containerAppsOptions(settings)),
} as const satisfies LauncherDefinition;
