// Launchers start the trainer for a training job and return at once: `local` runs it as a child process on
// this machine, `containerapps` starts an execution of an Azure Container Apps job (serverless GPU) with the
// job's identity passed as environment overrides.
import { spawn } from 'node:child_process';
import { ContainerAppsAPIClient, type ContainerAppsAPIClientOptionalParams } from '@azure/arm-appcontainers';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { InvalidArgumentError } from '../errors';

export interface LaunchRequest {
  dataset: string;
  jobId: string;
}

export interface Launched {
  /** What the launcher started: a process id, or the Container Apps job execution's name. */
  executionName: string;
}

export interface Launcher {
  readonly name: 'local' | 'containerapps';
  launch(request: LaunchRequest): Promise<Launched>;
  /**
   * Where a launched execution stands, for launchers that cannot see their trainer exit: 'running', 'ended'
   * (it finished, whatever it reported) or 'failed' (it died: the job must not stay "running").
   */
  executionState?(executionName: string): Promise<'running' | 'ended' | 'failed'>;
}

/** The environment variables that tell a trainer which job it runs. */
export function trainerEnvironment(request: LaunchRequest): Record<string, string> {
  return { TRAIN_DATASET: request.dataset, TRAIN_JOB_ID: request.jobId };
}

export interface LocalLauncherOptions {
  /** The trainer command, e.g. [process.execPath, 'dist/src/train/main.js']. */
  command: readonly [string, ...string[]];
  cwd?: string;
  /** Environment for the trainer on top of this process's (connection strings and the like). */
  env?: Record<string, string>;
  /** Called when the trainer exits, so that a trainer that died can leave its job failed. */
  onExit?: (request: LaunchRequest, exit: { code: number | null; signal: NodeJS.Signals | null; stderrTail: string }) => void;
}

/** Runs the trainer as a child process of this host. */
export class LocalLauncher implements Launcher {
  readonly name = 'local';

  constructor(private readonly options: LocalLauncherOptions) {}

  launch(request: LaunchRequest): Promise<Launched> {
    const [executable, ...args] = this.options.command;
    const child = spawn(executable, args, {
      cwd: this.options.cwd,
      env: { ...process.env, ...this.options.env, ...trainerEnvironment(request) },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let stderrTail = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk.toString()).slice(-2000);
    });
    return new Promise((resolve, reject) => {
      child.once('error', (error) => reject(new Error(`the trainer could not start (${this.options.command.join(' ')}): ${error.message}`)));
      child.once('spawn', () => {
        child.once('exit', (code, signal) => this.options.onExit?.(request, { code, signal, stderrTail }));
        resolve({ executionName: `pid-${child.pid}` });
      });
    });
  }
}

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
    this.#client = new ContainerAppsAPIClient(options.credential ?? new DefaultAzureCredential(), options.subscriptionId, options.clientOptions);
  }

  async launch(request: LaunchRequest): Promise<Launched> {
    const env = [
      ...Object.entries({ ...this.options.environment, ...trainerEnvironment(request) }).map(([name, value]) => ({ name, value })),
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
