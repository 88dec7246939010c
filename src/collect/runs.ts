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
  error?: string;
  finishedAt: string;
}

export interface RunReport extends RunRecord {
  status: 'running' | 'done';
  queriesDone: number;
  queriesFailed: number;
  imagesFound: number;
  imagesDownloaded: number;
  skipped: Record<string, number>;
  queryReports: QueryReport[];
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
    const row: QueryRow = {
      partitionKey: dataset,
      rowKey: queryKey(runId, report.index),
      index: report.index,
      query: report.query,
      label: report.label,
      status: report.status,
      found: report.found,
      downloaded: report.downloaded,
      skipped: JSON.stringify(report.skipped),
      skippedDetails: JSON.stringify(report.skippedDetails.slice(0, MAX_SKIPPED_DETAILS)),
      finishedAt: report.finishedAt,
      ...(report.error ? { error: report.error } : {}),
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
        finishedAt: row.finishedAt,
        ...(row.error ? { error: row.error } : {}),
      });
    }
    queryReports.sort((a, b) => a.index - b.index);
    const skipped: Record<string, number> = {};
    for (const report of queryReports) {
      for (const [reason, count] of Object.entries(report.skipped)) skipped[reason] = (skipped[reason] ?? 0) + count;
    }
    return {
      ...run,
      status: queryReports.length >= run.queries ? 'done' : 'running',
      queriesDone: queryReports.length,
      queriesFailed: queryReports.filter((r) => r.status === 'failed').length,
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

function runKey(runId: string): string {
  return `run:${runId}`;
}

function queryKey(runId: string, index: number): string {
  return `${runKey(runId)}:q:${String(index).padStart(5, '0')}`;
}

function urlKey(url: string): string {
  return `url:${createHash('sha256').update(url).digest('hex')}`;
}
