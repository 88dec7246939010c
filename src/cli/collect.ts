// `icf collect plan FILE` and `icf collect run --dataset NAME`: plans checked offline, runs through the HTTP API.
import { readFile } from 'node:fs/promises';

import { Presets, SingleBar } from 'cli-progress';

import { parsePlan, synthesizeQueries } from '../collect/plan';
import { isRunFinished, type RunReport } from '../collect/runs';
import { loadCliSettings } from '../config';
import { InvalidArgumentError, messageOf } from '../errors';
import { describeValue } from '../util/describeValue';
import { apiClientFor, APP_OPTIONS, APP_OPTIONS_USAGE } from './apiClient';
import { parseArgs, UsageError } from './options';

export const COLLECT_USAGE = `usage: icf collect plan FILE
       icf collect run --dataset NAME [--plan FILE] [options]
  plan: print the queries and labels a collection plan makes (offline)
  run: start a collection run (storing the plan first with --plan) and follow its progress
options for run:
  --dataset NAME                    the dataset to collect into
  --plan FILE                       store this plan for the dataset first
${APP_OPTIONS_USAGE}`;

/** Runs `icf collect plan|run ...`; returns the exit code. */
export async function collectCommand(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'plan') {
    const { positional } = parseArgs(rest, { values: [], command: 'collect' });
    if (positional.length !== 1) throw new UsageError('collect', 'collect plan needs one FILE');
    await describePlan(positional[0]!, out);
    return 0;
  }
  if (sub === 'run') {
    const { positional, values } = parseArgs(rest, { values: [...APP_OPTIONS, 'dataset', 'plan'], command: 'collect' });
    if (!values.dataset || positional.length > 0) throw new UsageError('collect', 'collect run needs --dataset NAME');
    const api = apiClientFor(values);
    const key = values.key ?? loadCliSettings().functionKey;
    const report = await runCollection({
      dataset: values.dataset,
      baseUrl: api.baseUrl,
      out,
      ...(key ? { key } : {}),
      ...(values.plan ? { planFile: values.plan } : {}),
    });
    return report.queriesFailed === 0 ? 0 : 1;
  }
  // An option before the subcommand is named as an option.
  parseArgs(args, { values: [], command: 'collect' });
  throw new UsageError(
    'collect',
    sub === undefined ? 'collect needs "plan" or "run"' : `unknown collect command "${sub}"`,
  );
}

export async function readPlanFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(`cannot read plan "${file}": ${messageOf(error)}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`${file} is not valid JSON: ${messageOf(error)}`);
  }
}

/** Prints the queries and labels a plan makes. */
export async function describePlan(file: string, out: NodeJS.WritableStream): Promise<void> {
  const plan = parsePlan(await readPlanFile(file), file);
  const queries = synthesizeQueries(plan);
  const labels = [...new Set(queries.map((q) => q.label))];
  out.write(
    `${queries.length} queries, ${labels.length} labels (${labels.join(', ')}); ${plan.imagesPerQuery} images per query from ${plan.provider} (at most ${queries.length * plan.imagesPerQuery} images)\n`,
  );
  const width = Math.max(...queries.map((q) => q.query.length));
  for (const q of queries) out.write(`${q.query.padEnd(width)}  -> ${q.label}\n`);
}

export interface RunOptions {
  dataset: string;
  baseUrl: string;
  key?: string;
  planFile?: string;
  pollIntervalInMs?: number;
  out: NodeJS.WritableStream;
}

/** Starts a run through the HTTP API (storing the plan first when given) and follows it to the end. */
export async function runCollection(options: RunOptions): Promise<RunReport> {
  const api = async (method: string, path: string, body?: unknown) => {
    const url = new URL(`/api/datasets/${encodeURIComponent(options.dataset)}${path}`, options.baseUrl);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { 'content-type': 'application/json', ...(options.key ? { 'x-functions-key': options.key } : {}) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new Error(`cannot reach ${options.baseUrl} (${messageOf(error)}); is the app running (npm start)?`, {
        cause: error,
      });
    }
    const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok)
      throw new Error(
        `${method} ${url.pathname}: ${response.status} ${describeValue(json['message'] ?? response.statusText)}`,
      );
    return json;
  };

  if (options.planFile) await api('PUT', '/collection-plan', await readPlanFile(options.planFile));
  const started = await api('POST', '/collect');
  const runId = String(started['runId']);
  const total = Number(started['queries']);
  options.out.write(`run ${runId}: ${total} queries\n`);
  const interactive = (options.out as NodeJS.WriteStream).isTTY === true;
  const bar = new SingleBar(
    {
      format: 'collect [{bar}] {value}/{total} queries, {downloaded} downloaded',
      stream: options.out,
      noTTYOutput: !interactive,
      notTTYSchedule: 5000,
    },
    Presets.shades_classic,
  );
  bar.start(total, 0, { downloaded: 0 });
  for (;;) {
    const report = (await api('GET', `/collect/${encodeURIComponent(runId)}`)) as unknown as RunReport;
    bar.update(report.queriesDone, { downloaded: report.imagesDownloaded });
    if (isRunFinished(report)) {
      bar.stop();
      const skipped = Object.entries(report.skipped)
        .map(([reason, count]) => `${count} ${reason}`)
        .join(', ');
      options.out.write(
        `${report.status}: ${report.imagesFound} found, ${report.imagesDownloaded} downloaded${skipped ? `, skipped: ${skipped}` : ''}` +
          `${report.queriesFailed ? `; ${report.queriesFailed} queries failed` : ''}\n`,
      );
      if (report.error) options.out.write(`  ${report.error}\n`);
      for (const failed of report.queryReports.filter((q) => q.status === 'failed')) {
        options.out.write(`  failed: "${failed.query}": ${failed.error ?? ''}\n`);
      }
      return report;
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollIntervalInMs ?? 1000));
  }
}
