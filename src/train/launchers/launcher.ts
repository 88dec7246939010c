// What a launcher is: it starts the trainer for a training job and returns at once, and the registry (index.ts)
// knows each one by the name TRAIN_LAUNCHER gives, with how it is made from the settings.
import type { AppSettings, RawSettings } from '../../config';
import type { JobStore } from '../jobs';

export interface LaunchRequest {
  dataset: string;
  jobId: string;
}

export interface Launched {
  /** What the launcher started: a process id, or the Container Apps job execution's name. */
  executionName: string;
}

export interface Launcher {
  /** The name it is registered under (TRAIN_LAUNCHER), recorded on the job. */
  readonly name: string;
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

/** What a launcher may be made from. */
export interface LauncherContext {
  settings: AppSettings;
  /** The app settings as given to this host: a trainer started here runs with them. */
  appSettings: RawSettings;
  /** Where a launcher that sees its trainer die leaves the job failed. */
  jobs: JobStore;
}

/** A launcher as the registry knows it: the TRAIN_LAUNCHER value that picks it, and how it is made. */
export interface LauncherDefinition<Name extends string = string> {
  readonly name: Name;
  create(context: LauncherContext): Launcher;
}
