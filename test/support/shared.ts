// Locates ../shared (beside the project: real photos, the dHash and backbone reference files; ../shared/README.md
// says what each holds), the same lookup the benchmarks use. A clone from a public host has no such folder: the
// tests that need its photos skip then, loudly (a warning on stderr naming the folder, and "skipped" in the
// summary), and every other test runs.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { describe, it } from 'vitest';

import { projectRoot } from '../../src/util/paths';

export { sharedDataPath as sharedPath } from '../../src/localStack/sharedData';

/** Where the shared data is looked for. */
export const SHARED_DIR = path.join(projectRoot(), '..', 'shared');

/** Whether ../shared is there; when it is not, says so once per test file on stderr. */
export const haveShared: boolean = existsSync(SHARED_DIR);

if (!haveShared) {
  // stderr, not the console: the test runner shows console output only for failing tests.
  process.stderr.write(
    `\nWARNING: ${SHARED_DIR} is missing, so the tests that need its real photos and reference outputs are ` +
      "skipped. It is not in the repository: the project's machines and CI provide it beside the clone " +
      '(see "Tests" in README.md).\n\n',
  );
}

/** `describe`, skipped (with the warning above) when ../shared is missing: for tests that need its photos only. */
export const describeWithShared = describe.skipIf(!haveShared);

/** `it`, skipped (with the warning above) when ../shared is missing: for tests that need its photos only. */
export const itWithShared = it.skipIf(!haveShared);
