// Runs a CommonJS script in a child Node process, from the project root, against the build (dist/; `npm test` builds
// first, a single test file needs `npm run build`). For the tests whose expected failures print natively: Dawn's
// warning when WebGPU cannot load Vulkan goes straight to the process's stderr, past any log level, so those sessions
// run here, where the output is captured and the test asserts on the result instead of showing it.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { projectRoot } from '../../src/util/paths';

export interface BuiltScriptResult {
  /** The JSON the script printed as its last line of stdout. */
  result: unknown;
  /** What the script printed to stderr (native library warnings, for one). */
  stderr: string;
}

/** Runs `script` (which may `require('./dist/...')`) and parses the last stdout line as JSON. */
export function runBuiltScript(
  script: string,
  options: { needs: string; timeoutInMs: number },
): Promise<BuiltScriptResult> {
  const root = projectRoot();
  if (!existsSync(path.join(root, options.needs))) {
    throw new Error(`${options.needs} is missing: run \`npm run build\` first (npm test does)`);
  }
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-e', script],
      { cwd: root, timeout: options.timeoutInMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`the script failed (${error.message}); stderr: ${stderr.slice(-2000)}`));
          return;
        }
        const last = stdout.trim().split('\n').at(-1) ?? '';
        try {
          resolve({ result: JSON.parse(last) as unknown, stderr });
        } catch {
          reject(new Error(`the script's last line is not JSON: ${JSON.stringify(last.slice(0, 200))}`));
        }
      },
    );
  });
}
