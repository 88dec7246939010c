// Identifiers for runs and jobs.
import { randomUUID } from 'node:crypto';

/** yyyymmddhhmmss-xxxxxxxx: sorts by creation time, unique without coordination. */
export function timeSortableId(now = new Date()): string {
  return `${now
    .toISOString()
    .replace(/[-:.TZ]/g, '')
    .slice(0, 14)}-${randomUUID().slice(0, 8)}`;
}

/** Whether `value` has the form timeSortableId gives: anything else names no run or job (and may not be a valid table key). */
export function isTimeSortableId(value: string): boolean {
  return /^\d{14}-[0-9a-f]{8}$/.test(value);
}
