// The `containerapps` launcher: starts an execution of an Azure Container Apps job (on a CPU or serverless GPU
// profile) through Azure Resource Manager, with the training job passed as environment overrides, and reads how the
// execution stands.
import {
  type Container,
  ContainerAppsAPIClient,
  type ContainerAppsAPIClientOptionalParams,
  type EnvironmentVar,
  type JobExecutionContainer,
  type JobExecutionTemplate,
} from '@azure/arm-appcontainers';
import { createHttpHeaders, createPipelineRequest } from '@azure/core-rest-pipeline';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';

import { type AppSettings, storageConnectionSettings } from '../../config';
import { ConfigurationError, ProgrammingError } from '../../errors';
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
  /** The trainer image; default: the job's own (which the postdeploy hook keeps current). */
  image?: string;
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
    for (const field of ['subscriptionId', 'resourceGroup', 'jobName', 'containerName'] as const) {
      // The settings name a missing TRAIN_CONTAINERAPPS_* first (loadSettings): one missing here comes from code.
      if (!options[field]) throw new ProgrammingError(`ContainerAppsLauncher: ${field} is required`);
    }
    this.#client = new ContainerAppsAPIClient(
      options.credential ?? new DefaultAzureCredential(),
      options.subscriptionId,
      options.clientOptions,
    );
  }

  async launch(request: LaunchRequest): Promise<Launched> {
    const template = await this.#executionTemplate(request);
    const started = await this.#start(template);
    return { executionName: started };
  }

  /**
   * The job's own template with this training job's environment laid over it. An execution's template replaces the
   * job's containers whole, so what the job sets (its CPU and memory, command, identity settings) is copied over,
   * or the execution would run with the platform's defaults.
   */
  async #executionTemplate(request: LaunchRequest): Promise<JobExecutionTemplate> {
    const { resourceGroup, jobName, containerName } = this.options;
    const job = await this.#client.jobs.get(resourceGroup, jobName);
    const containers = job.template?.containers ?? [];
    if (!containers.some((container) => container.name === containerName)) {
      throw new ConfigurationError(
        `the Container Apps job ${jobName} has no container named "${containerName}" ` +
          `(TRAIN_CONTAINERAPPS_CONTAINER_NAME); it has ${containers.map((c) => `"${c.name}"`).join(', ') || 'none'}`,
      );
    }
    const overrides: EnvironmentVar[] = [
      ...Object.entries({ ...this.options.environment, ...trainerEnvironment(request) }).map(([name, value]) => ({
        name,
        value,
      })),
      ...Object.entries(this.options.secretEnvironment ?? {}).map(([name, secretRef]) => ({ name, secretRef })),
    ];
    return {
      containers: containers.map((container) =>
        container.name === containerName
          ? executionContainer(container, { image: this.options.image, env: overrides })
          : executionContainer(container),
      ),
      ...(job.template?.initContainers?.length
        ? { initContainers: job.template.initContainers.map((container) => executionContainer(container)) }
        : {}),
    };
  }

  /**
   * POST .../jobs/{job}/start, and the execution's name from its answer (202 with the execution's name and id).
   * Not the SDK's beginStartAndWait: that polls the operation's Location, a subscription-level
   * Microsoft.App/locations/containerappsjoboperationresults resource that the job-scoped role does not grant, so
   * the launch would fail after the execution had started (and billed). The state is read later from the execution
   * itself (executionState), which the role does grant.
   */
  async #start(template: JobExecutionTemplate): Promise<string> {
    const { subscriptionId, resourceGroup, jobName } = this.options;
    const endpoint = (this.options.clientOptions?.endpoint ?? 'https://management.azure.com').replace(/\/+$/, '');
    const url =
      `${endpoint}/subscriptions/${encodeURIComponent(subscriptionId)}/resourceGroups/${encodeURIComponent(resourceGroup)}` +
      `/providers/Microsoft.App/jobs/${encodeURIComponent(jobName)}/start?api-version=${this.#client.apiVersion}`;
    const response = await this.#client.sendRequest(
      createPipelineRequest({
        url,
        method: 'POST',
        headers: createHttpHeaders({ 'content-type': 'application/json', accept: 'application/json' }),
        body: JSON.stringify(template),
      }),
    );
    const body = parseJson(response.bodyAsText);
    if (response.status < 200 || response.status > 299) {
      const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new Error(
        `Azure refused to start job ${jobName} (${response.status} ${error?.code ?? 'no error code'}): ${error?.message ?? response.bodyAsText ?? ''}`,
      );
    }
    const name = (body as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string' || !name) {
      throw new Error(`Azure started job ${jobName} but did not return the execution's name (${response.status})`);
    }
    return name;
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

/** A job template's container as an execution's template takes it: the fields JobExecutionContainer has. */
function executionContainer(
  container: Container,
  override: { image?: string | undefined; env?: EnvironmentVar[] } = {},
): JobExecutionContainer {
  const overridden = new Set((override.env ?? []).map((variable) => variable.name));
  const env = [...(container.env ?? []).filter((variable) => !overridden.has(variable.name)), ...(override.env ?? [])];
  const { cpu, memory } = container.resources ?? {};
  return {
    name: container.name,
    image: override.image ?? container.image,
    ...(container.command?.length ? { command: container.command } : {}),
    ...(container.args?.length ? { args: container.args } : {}),
    ...(env.length ? { env: env.map(({ name, value, secretRef }) => ({ name, value, secretRef })) } : {}),
    ...(cpu !== undefined || memory !== undefined ? { resources: { cpu, memory } } : {}),
  };
}

function parseJson(text: string | null | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
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
  const job = { subscriptionId, resourceGroup, jobName, containerName, ...(image ? { image } : {}) };
  return settings.storage.kind === 'identity'
    ? { ...job, environment: { ...environment, ...storageConnectionSettings(settings.storage) } }
    : { ...job, environment, secretEnvironment: { AzureWebJobsStorage: 'storage-connection' } };
}

/** The registry's `containerapps`: the job named by the TRAIN_CONTAINERAPPS_* settings. */
export const containerAppsLauncher = {
  name: 'containerapps',
  create: ({ settings }) => new ContainerAppsLauncher(containerAppsOptions(settings)),
} as const satisfies LauncherDefinition;
