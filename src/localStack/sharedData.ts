// Locates the shared read-only data (`../shared` beside the project: photo sets, dHash fixtures) for tests and
// benchmarks alike, from source or from a build, and fails loudly, naming the path, when it is missing.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { projectRoot } from '../util/paths';

/** `../shared/<parts>`, which must exist. */
export function sharedDataPath(...parts: string[]): string {
  const full = path.join(projectRoot(), '..', 'shared', ...parts);
  if (!existsSync(full)) {
    throw new Error(
      `../shared/${parts.join('/')} is missing (${full}): tests and benchmarks need the shared data beside the ` +
        'project (see ../shared/README.md)',
    );
  }
  return full;
}
