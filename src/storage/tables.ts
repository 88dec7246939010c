// Table helpers shared by the catalog and the collection runs.
import { RestError, type TableClient } from '@azure/data-tables';

/** Creates the table unless it exists. */
export async function ensureTable(table: TableClient): Promise<void> {
  try {
    await table.createTable();
  } catch (error) {
    if (!isStatus(error, 409)) throw error;
  }
}

/** Whether a storage call failed with this HTTP status. */
export function isStatus(error: unknown, status: number): boolean {
  return error instanceof RestError && error.statusCode === status;
}
