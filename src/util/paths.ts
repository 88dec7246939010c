// Where the project's own files are, from source (vitest) and from the build (dist/) alike.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** The nearest folder above this file with a package.json. */
export function projectRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
}
