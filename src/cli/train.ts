// `icf train DATASET [--wait]` starts a training job through the HTTP API and, with --wait, follows its progress to
// the outcome; `icf status DATASET [JOB]` reports one job, or the dataset's latest jobs.
import { Presets, SingleBar } from 'cli-progress';

import { MonotoneProgress } from '../demo/progressBars';
import type { TrainJob } from '../train/jobs';
import { type ApiClient, apiClientFor, APP_OPTIONS, APP_OPTIONS_USAGE } from './apiClient';
import { invalidOption, parseArgs, UsageError } from './options';

export const TRAIN_USAGE = `usage: icf train DATASET [options]
  queue a training job on the dataset's train split (evaluated on its test split); prints the job id
options:
  --wait                            follow the job's progress to the end; exit 1 when it fails
  --force                           publish the model even when it tests worse than the current one
  --backbone NAME                   the backbone (default resnet50-keras; see icf backbone list)
  --input-size S                    the backbone's input side, a multiple of 32 from 128 to 512
  --augmented-views N               augmented views per training image in the recipe search (default 2)
  --budget S                        the recipe search's time budget in seconds (default 300)
  --poll-interval-ms MS             how often --wait reads the job (default 1000)
${APP_OPTIONS_USAGE}`;

export const STATUS_USAGE = `usage: icf status DATASET [JOB]
  a training job's status, stage, progress and test metrics; without JOB, the dataset's latest jobs
options:
${APP_OPTIONS_USAGE}`;

export async function trainCommand(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const { positional, values, flags } = parseArgs(args, {
    values: [...APP_OPTIONS, 'backbone', 'input-size', 'augmented-views', 'budget', 'poll-interval-ms'],
    flags: ['wait', 'force'],
    command: 'train',
  });
  const [dataset] = positional;
  if (dataset === undefined || positional.length !== 1) throw new UsageError('train', 'train needs one DATASET');
  const number = (option: 'input-size' | 'augmented-views' | 'budget' | 'poll-interval-ms') => {
    const text = values[option];
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value < 0)
      throw invalidOption('train', option, 'a non-negative number', text);
    return value;
  };
  // The app validates the options themselves and names the one that is wrong.
  const inputSize = number('input-size');
  const augmentedViews = number('augmented-views');
  const budget = number('budget');
  const body = {
    ...(values.backbone !== undefined ? { backbone: values.backbone } : {}),
    ...(inputSize !== undefined ? { inputSize } : {}),
    ...(augmentedViews !== undefined ? { augmentedViews } : {}),
    ...(budget !== undefined ? { searchBudgetInS: budget } : {}),
    ...(flags.has('force') ? { force: true } : {}),
  };
  const api = apiClientFor(values);
  const started = await api.postJson<{ jobId: string }>(`datasets/${encodeURIComponent(dataset)}/train`, body);
  out.write(`job ${started.jobId} queued for dataset ${dataset}\n`);
  if (!flags.has('wait')) {
    out.write(`follow it with: icf status ${dataset} ${started.jobId}\n`);
    return 0;
  }
  const job = await followJob(api, dataset, started.jobId, out, number('poll-interval-ms') ?? 1000);
  out.write(describeJob(job));
  return job.status === 'succeeded' ? 0 : 1;
}

export async function statusCommand(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const { positional, values } = parseArgs(args, { values: APP_OPTIONS, command: 'status' });
  const [dataset, jobId] = positional;
  if (dataset === undefined || positional.length > 2)
    throw new UsageError('status', 'status needs DATASET and, optionally, a JOB id');
  const api = apiClientFor(values);
  const base = `datasets/${encodeURIComponent(dataset)}/jobs`;
  if (jobId !== undefined) {
    const job = await api.getJson<TrainJob>(`${base}/${encodeURIComponent(jobId)}`);
    out.write(describeJob(job));
    return job.status === 'failed' ? 1 : 0;
  }
  const { jobs } = await api.getJson<{ jobs: TrainJob[] }>(base);
  if (jobs.length === 0) {
    out.write(`dataset "${dataset}" has no training jobs yet (start one with icf train ${dataset})\n`);
    return 0;
  }
  const rows = jobs.map((job) => [
    job.jobId,
    job.status,
    job.stage,
    `${Math.round(job.progress * 100)}%`,
    job.metrics ? percent(job.metrics.accuracy) : '-',
    job.published === undefined ? '-' : job.published ? 'yes' : 'no',
    job.createdAt,
  ]);
  out.write(table(['job', 'status', 'stage', 'progress', 'accuracy', 'published', 'created'], rows));
  return 0;
}

/** Polls the job until it ends, with a progress bar from its progress and stage. */
async function followJob(
  api: ApiClient,
  dataset: string,
  jobId: string,
  out: NodeJS.WritableStream,
  pollIntervalInMs: number,
): Promise<TrainJob> {
  // As the demo draws it: the bar never moves back, even where a report dips, and the ETA is from the whole job.
  const progress = new MonotoneProgress();
  const bar = new SingleBar(
    {
      format: 'train [{bar}] {percentage}% {stage}  {timeLeft}',
      stream: out,
      noTTYOutput: (out as NodeJS.WriteStream).isTTY !== true,
      notTTYSchedule: 10_000,
    },
    Presets.shades_classic,
  );
  bar.start(100, 0, { stage: 'queued', timeLeft: '' });
  try {
    for (;;) {
      const job = await api.getJson<TrainJob>(
        `datasets/${encodeURIComponent(dataset)}/jobs/${encodeURIComponent(jobId)}`,
      );
      const shown = progress.observe(Math.round(job.progress * 100), 100);
      bar.update(shown.done, { stage: job.stage, timeLeft: shown.timeLeft });
      if (job.status === 'succeeded' || job.status === 'failed') return job;
      await new Promise((resolve) => setTimeout(resolve, pollIntervalInMs));
    }
  } finally {
    bar.stop();
  }
}

/** A job in a few lines: its state, and its outcome once it has one. */
export function describeJob(job: TrainJob): string {
  const lines = [
    `job ${job.jobId} (dataset ${job.dataset}): ${job.status}, stage ${job.stage}, ${percent(job.progress)}`,
  ];
  if (job.status === 'failed') lines.push(`  error: ${job.error ?? '(none recorded)'}`);
  if (job.metrics) {
    const m = job.metrics;
    lines.push(
      `  test accuracy ${percent(m.accuracy)} on ${m.testImages} test images ` +
        `(${m.trainImages} training images${m.task ? `, ${m.task}` : ''})`,
    );
  }
  // The trainer's note says whether the model serves now and why (not): "published: accuracy 85% against ...".
  if (job.published !== undefined)
    lines.push(`  ${job.publishNote ?? (job.published ? 'published' : 'not published')} (version ${job.jobId})`);
  return `${lines.join('\n')}\n`;
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** Rows under a header, each column as wide as its widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}
