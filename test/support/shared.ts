// Locates ../shared (beside the project), failing loudly when it is missing.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export function sharedPath(...parts: string[]): string {
  const root = path.resolve(__dirname, '..', '..', '..', 'shared');
  const full = path.join(root, ...parts);
  if (!existsSync(full)) {
    throw new Error(`../shared/${parts.join('/')} is missing: these tests need the shared test data beside the project (see ../shared/README.md)`);
  }
  return full;
}
