// Where converted backbones and cached features live: ICF_CACHE_DIR (read by the settings module), else the
// project's .cache/. Kept out of paths.ts: modules that the settings module imports use paths.ts, and an import
// of the settings module from there would be circular.
import * as path from 'node:path';

import { type CacheSettings, loadCacheSettings } from '../config';
import { projectRoot } from './paths';

/** A cache folder: <ICF_CACHE_DIR>/<kind>, else <project>/.cache/<kind> (git-ignored). */
export function cacheDir(kind: string, settings: CacheSettings = loadCacheSettings()): string {
  return path.join(settings.cacheDir ?? path.join(projectRoot(), '.cache'), kind);
}
