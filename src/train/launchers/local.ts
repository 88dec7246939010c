// The `local` launcher: runs the trainer as a child process of this host, with the host's app settings, and
// leaves the job failed when the trainer exits without reporting. The trainer's output goes through this process's
// console a line at a time (the function log under a Functions host), where a test runner can capture it too.
import { spawn } from 'node:child_process';
import * as path from 'node:path';

import { storageConnectionSettings } from '../../config';
import { messageOf } from '../../errors';
import { projectRoot } from '../../util/paths';
import {
  type Launched,
  type Launcher,
  type LauncherDefinition,
  type LaunchRequest,
  trainerEnvironment,
} from './launcher';

export interface LocalLauncherOptions {
  /** The trainer command, e.g. [process.execPath, 'dist/src/train/main.js']. */
  command: readonly [string, ...string[]];
  cwd?: string;
  /** The trainer's environment (the caller passes the settings it should see); the job's identity is added. */
  env?: Record<string, string | undefined>;
  /** Called when the trainer exits, so that a trainer that died can leave its job failed. */
  onExit?: (
    request: LaunchRequest,
    exit: { code: number | null; signal: NodeJS.Signals | null; stderrTail: string },
  ) => void;
  /** Receives the trainer's output a line at a time; default console.log for stdout, console.error for stderr. */
  output?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** Runs the trainer as a child process of this host. */
export class LocalLauncher implements Launcher {
  readonly name = 'local';

  constructor(private readonly options: LocalLauncherOptions) {}

  launch(request: LaunchRequest): Promise<Launched> {
    const [executable, ...args] = this.options.command;
    const child = spawn(executable, args, {
      cwd: this.options.cwd,
      env: { ...this.options.env, ...trainerEnvironment(request) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output =
      this.options.output ??
      ((line: string, stream: 'stdout' | 'stderr') => (stream === 'stdout' ? console.log(line) : console.error(line)));
    forwardLines(child.stdout, (line) => output(line, 'stdout'));
    forwardLines(child.stderr, (line) => output(line, 'stderr'));
    let stderrTail = '';
    child.stderr.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-2000);
    });
    return new Promise((resolve, reject) => {
      child.once('error', (error) =>
        reject(new Error(`the trainer could not start (${this.options.command.join(' ')}): ${error.message}`)),
      );
      child.once('spawn', () => {
        child.once('exit', (code, signal) => this.options.onExit?.(request, { code, signal, stderrTail }));
        resolve({ executionName: `pid-${child.pid}` });
      });
    });
  }
}

/** Calls `line` for each line of `stream`, the last one even without its newline. */
function forwardLines(stream: NodeJS.ReadableStream, line: (text: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    for (const text of lines) line(text);
  });
  stream.on('end', () => {
    if (pending !== '') line(pending);
  });
}

/** The registry's `local`: `node dist/src/train/main.js` from the project root. */
export const localLauncher = {
  name: 'local',
  create: ({ settings, appSettings, jobs }) =>
    new LocalLauncher({
      command: [process.execPath, path.join(projectRoot(), 'dist', 'src', 'train', 'main.js')],
      cwd: projectRoot(),
      env: {
        ...appSettings,
        ...storageConnectionSettings(settings.storage),
        TRAIN_EXECUTION_PROVIDERS: settings.train.executionProviders.join(','),
      },
      // A trainer that dies without reporting leaves its job failed, not running forever.
      onExit: (request, exit) => {
        if (exit.code === 0) return;
        void jobs
          .get(request.dataset, request.jobId)
          .then((job) =>
            job.status === 'succeeded' || job.status === 'failed'
              ? undefined
              : jobs.update(request.dataset, request.jobId, {
                  status: 'failed',
                  stage: 'failed',
                  finishedAt: new Date().toISOString(),
                  error:
                    `the trainer exited with ${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}: ` +
                    exit.stderrTail.trim().split('\n').slice(-3).join(' | '),
                }),
          )
          .catch((error: unknown) =>
            console.error(`train: could not mark job ${request.jobId} failed: ${messageOf(error)}`),
          );
      },
    }),
} as const satisfies LauncherDefinition;
