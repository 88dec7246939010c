// Identifiers for runs and jobs.
import { randomUUID } from 'node:crypto';

/** yyyymmddhhmmss-xxxxxxxx: sorts by creation time, unique without coordination. */
export function timeSortableId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomUUID().slice(0, 8)}`;
}
