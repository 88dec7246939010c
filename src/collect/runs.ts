// Collection runs in Azure Table storage: a row per run, a row per query once it has run, and a row per
// content URL already downloaded into a dataset. A run's report is read back by aggregating its query rows,
// so that queries running in parallel never contend for one row.
import { createHash } from 'node:crypto';

import { odata, type TableClient } from '@azure/data-tables';

import { NotFoundError } from '../errors';
import { ensureTable, isStatus } from '../storage/tables';
import { isTimeSortableId, timeSortableId } from '../util/ids';

/** Skipped results kept per query in its row, with their reasons (the counts cover all). */
const MAX_SKIPPED_DETAILS = 50;

/**
 * Bounds on what one query's row holds. Table storage takes at most 64 KiB per string property (32 Ki UTF-16
 * characters) and 1 MiB per entity; results with 100 KB URLs once made a row of megabytes, refused on every try.
 * Lengths are in UTF-16 characters, as the service counts them.
 */
export const REPORT_LIMITS = {
  /** A kept skipped result's URL; longer ones are cut and say by how much. */
  urlChars: 2_000,
  /** A kept skipped result's message. */
  messageChars: 500,
  /** The JSON of a query's kept skipped results together; the rest are counted in skippedDetailsOmitted. */
  detailsChars: 16_000,
  /** A query's error, query text and label. */
  textChars: 4_000,
  /** Skipped results' JSON across all queries of one run's report (GET), so a 2,000-query report stays small. */
  reportDetailsChars: 512_000,
} as const;

export type RunTrigger = 'schedule' | 'http';

export interface RunRecord {
  dataset: string;
  runId: string;
  trigger: RunTrigger;
  provider: string;
  queries: number;
  imagesPerQuery: number;
  startedAt: string;
}

export interface SkippedResult {
  url: string;
  reason: string;
  message: string;
}

export interface QueryReport {
  index: number;
  query: string;
  label: string;
  status: 'done' | 'failed';
  found: number;
  downloaded: number;
  skipped: Record<string, number>;
  skippedDetails: SkippedResult[];
  /** Skipped results counted in `skipped` whose details were left out to keep the report bounded. */
  skippedDetailsOmitted?: number;
  error?: string;
  finishedAt: string;
}

/**
 * running: queries are still to report. done: every query ran. partial: every query reported, some failed.
 * failed: every query failed. A run that has ended has an `error` saying why when it is partial or failed.
 */
export type RunStatus = 'running' | 'done' | 'partial' | 'failed';

export interface RunReport extends RunRecord {
  status: RunStatus;
  /** Why a partial or failed run failed: how many queries, and the first one's error. */
  error?: string;
  queriesDone: number;
  queriesFailed: number;
  imagesFound: number;
  imagesDownloaded: number;
  skipped: Record<string, number>;
  queryReports: QueryReport[];
}

/** Whether a run has ended: every query reported, whatever their outcome. */
export function isRunFinished(report: Pick<RunReport, 'status'>): boolean {
  return report.status !== 'running';
}

/** A query's report as a table row: the structured fields as JSON text. */
type QueryRow = Omit<QueryReport, 'skipped' | 'skippedDetails'> & {
  partitionKey: string;
  rowKey: string;
  skipped: string;
  skippedDetails: string;
};

export class RunStore {
  constructor(private readonly table: TableClient) {}

  ensureTable(): Promise<void> {
    return ensureTable(this.table);
  }

  newRunId(): string {
    return timeSortableId();
  }

  async createRun(run: RunRecord): Promise<void> {
    await this.table.createEntity({ partitionKey: run.dataset, rowKey: runKey(run.runId), ...run });
  }

  /** The dataset's runs, newest first. */
  async listRuns(dataset: string): Promise<RunRecord[]> {
    const runs: RunRecord[] = [];
    const rows = this.table.listEntities<RunRecord>({
      queryOptions: {
        filter: odata`PartitionKey eq ${dataset} and RowKey ge 'run:' and RowKey lt 'run;' and queries ge 0`,
      },
    });
    for await (const row of rows) {
      runs.push({
        dataset: row.dataset,
        runId: row.runId,
        trigger: row.trigger,
        provider: row.provider,
        queries: row.queries,
        imagesPerQuery: row.imagesPerQuery,
        startedAt: row.startedAt,
      });
    }
    return runs.sort((a, b) => b.runId.localeCompare(a.runId));
  }

  async recordQuery(dataset: string, runId: string, report: QueryReport): Promise<void> {
    const details = boundDetails(report.skippedDetails, REPORT_LIMITS.detailsChars, MAX_SKIPPED_DETAILS);
    const omitted = (report.skippedDetailsOmitted ?? 0) + report.skippedDetails.length - details.kept.length;
    const row: QueryRow = {
      partitionKey: dataset,
      rowKey: queryKey(runId, report.index),
      index: report.index,
      query: cut(report.query, REPORT_LIMITS.textChars),
      label: cut(report.label, REPORT_LIMITS.textChars),
      status: report.status,
      found: report.found,
      downloaded: report.downloaded,
      skipped: JSON.stringify(report.skipped),
      skippedDetails: details.json,
      ...(omitted > 0 ? { skippedDetailsOmitted: omitted } : {}),
      finishedAt: report.finishedAt,
      ...(report.error ? { error: cut(report.error, REPORT_LIMITS.textChars) } : {}),
    };
    // A retried query replaces its earlier report.
    await this.table.upsertEntity(row, 'Replace');
  }

  async getReport(dataset: string, runId: string): Promise<RunReport> {
    if (!isTimeSortableId(runId))
      throw new NotFoundError(
        `dataset "${dataset}" has no collection run "${runId}" (run ids look like 20261201123456-0123abcd)`,
      );
    let run: RunRecord;
    try {
      const entity = await this.table.getEntity<RunRecord>(dataset, runKey(runId));
      run = {
        dataset: entity.dataset,
        runId: entity.runId,
        trigger: entity.trigger,
        provider: entity.provider,
        queries: entity.queries,
        imagesPerQuery: entity.imagesPerQuery,
        startedAt: entity.startedAt,
      };
    } catch (error) {
      if (isStatus(error, 404)) throw new NotFoundError(`dataset "${dataset}" has no collection run "${runId}"`);
      throw error;
    }
    const prefix = `${runKey(runId)}:q:`;
    const rows = this.table.listEntities<QueryRow>({
      queryOptions: { filter: odata`PartitionKey eq ${dataset} and RowKey ge ${prefix} and RowKey lt ${`${prefix}~`}` },
    });
    const queryReports: QueryReport[] = [];
    for await (const row of rows) {
      queryReports.push({
        index: row.index,
        query: row.query,
        label: row.label,
        status: row.status,
        found: row.found,
        downloaded: row.downloaded,
        skipped: JSON.parse(row.skipped) as Record<string, number>,
        skippedDetails: JSON.parse(row.skippedDetails) as SkippedResult[],
        ...(row.skippedDetailsOmitted ? { skippedDetailsOmitted: row.skippedDetailsOmitted } : {}),
        finishedAt: row.finishedAt,
        ...(row.error ? { error: row.error } : {}),
      });
    }
    queryReports.sort((a, b) => a.index - b.index);
    // Details of the first queries up to a budget for the whole answer; later ones are counted instead.
    let detailsBudget = REPORT_LIMITS.reportDetailsChars;
    for (const report of queryReports) {
      const { kept, json } = boundDetails(report.skippedDetails, detailsBudget, MAX_SKIPPED_DETAILS);
      detailsBudget -= json.length;
      const dropped = report.skippedDetails.length - kept.length;
      if (dropped > 0) {
        report.skippedDetails = kept;
        report.skippedDetailsOmitted = (report.skippedDetailsOmitted ?? 0) + dropped;
      }
    }
    const skipped: Record<string, number> = {};
    for (const report of queryReports) {
      for (const [reason, count] of Object.entries(report.skipped)) skipped[reason] = (skipped[reason] ?? 0) + count;
    }
    const failed = queryReports.filter((r) => r.status === 'failed');
    const status: RunStatus =
      queryReports.length < run.queries
        ? 'running'
        : failed.length === 0
          ? 'done'
          : failed.length === queryReports.length
            ? 'failed'
            : 'partial';
    const firstFailure = failed[0];
    return {
      ...run,
      status,
      ...(status === 'partial' || status === 'failed'
        ? {
            error: `${failed.length} of ${run.queries} queries failed; the first, "${firstFailure!.query}": ${firstFailure!.error ?? 'no error recorded'}`,
          }
        : {}),
      queriesDone: queryReports.length,
      queriesFailed: failed.length,
      imagesFound: queryReports.reduce((sum, r) => sum + r.found, 0),
      imagesDownloaded: queryReports.reduce((sum, r) => sum + r.downloaded, 0),
      skipped,
      queryReports,
    };
  }

  /** Whether this content URL was already downloaded into the dataset. */
  async wasDownloaded(dataset: string, url: string): Promise<boolean> {
    try {
      await this.table.getEntity(dataset, urlKey(url));
      return true;
    } catch (error) {
      if (isStatus(error, 404)) return false;
      throw error;
    }
  }

  async markDownloaded(dataset: string, url: string, blobName: string): Promise<void> {
    await this.table.upsertEntity(
      { partitionKey: dataset, rowKey: urlKey(url), url: url.slice(0, 4000), blobName },
      'Replace',
    );
  }
}

/** The text cut to `maxChars` UTF-16 characters, ending with how much was cut. */
export function cut(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const note = (left: number) => `… (${left} more characters)`;
  let keep = maxChars - note(text.length).length;
  // Never split a surrogate pair: storage wants valid Unicode.
  if (/[\uD800-\uDBFF]/.test(text[keep - 1] ?? '')) keep -= 1;
  return `${text.slice(0, keep)}${note(text.length - keep)}`;
}

/** As many of the details (each cut to size) as fit in `maxChars` of JSON, at most `maxCount`; and that JSON. */
function boundDetails(
  details: SkippedResult[],
  maxChars: number,
  maxCount: number,
): { kept: SkippedResult[]; json: string } {
  const kept: SkippedResult[] = [];
  let length = 2; // []
  for (const detail of details.slice(0, maxCount)) {
    const bounded = {
      url: cut(detail.url, REPORT_LIMITS.urlChars),
      reason: detail.reason,
      message: cut(detail.message, REPORT_LIMITS.messageChars),
    };
    const size = JSON.stringify(bounded).length + 1;
    if (length + size > maxChars) break;
    kept.push(bounded);
    length += size;
  }
  return { kept, json: JSON.stringify(kept) };
}

function runKey(runId: string): string {
  return `run:${runId}`;
}

function queryKey(runId: string, index: number): string {
  return `${runKey(runId)}:q:${String(index).padStart(5, '0')}`;
}

function urlKey(url: string): string {
  return `url:${createHash('sha256').update(url).digest('hex')}`;
}
