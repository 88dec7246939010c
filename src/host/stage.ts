// The app as `azd deploy` ships it, in a staging folder: the project's files that `.funcignore` keeps (gitignore
// patterns) and its production dependencies only (package-lock.json's packages not marked `dev`), linked from the
// local node_modules (no network). Loading the function files from there makes a function that needs a dev
// dependency or a file `.funcignore` drops fail here as it would on Azure.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface StagedApp {
  /** The staging folder: the package's root. */
  root: string;
  /** Top-level packages linked into its node_modules. */
  dependencies: string[];
  /** Removes the staging folder. */
  remove(): void;
}

export interface StageOptions {
  /** The project: package.json, package-lock.json, .funcignore, node_modules. */
  projectRoot: string;
  /** Where staging folders go; default the system's temporary folder: outside the project, whose node_modules
   * Node's resolution would otherwise find by walking up. */
  parentDir?: string;
}

/** Copies what the package holds into a fresh staging folder and links its production dependencies. */
export function stageApp(options: StageOptions): StagedApp {
  const { projectRoot } = options;
  const parent = options.parentDir ?? path.join(os.tmpdir(), 'functions-staging');
  mkdirSync(parent, { recursive: true });
  const root = mkdtempSync(path.join(parent, 'app-'));
  const remove = () => rmSync(root, { recursive: true, force: true });
  try {
    const ignore = funcIgnore(readIfExists(path.join(projectRoot, '.funcignore')) ?? '');
    copyKept(projectRoot, root, '', ignore, path.resolve(parent));
    const dependencies = linkProductionDependencies(projectRoot, root);
    return { root, dependencies, remove };
  } catch (error) {
    remove();
    throw error;
  }
}

function readIfExists(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

/** Copies (not links: a linked file would resolve its requires from the project, dev dependencies and all). */
function copyKept(from: string, to: string, relative: string, ignored: IgnoreMatcher, skip: string): void {
  for (const entry of readdirSync(path.join(from, relative), { withFileTypes: true })) {
    const rel = relative ? `${relative}/${entry.name}` : entry.name;
    const source = path.join(from, rel);
    // node_modules is rebuilt from the lock file below, whatever .funcignore says; the staging folders themselves
    // are never staged.
    if (rel === 'node_modules' || path.resolve(source) === skip) continue;
    const isDir = entry.isDirectory();
    if (ignored(rel, isDir)) continue;
    if (isDir) {
      mkdirSync(path.join(to, rel), { recursive: true });
      copyKept(from, to, rel, ignored, skip);
    } else if (entry.isFile()) {
      copyFileSync(source, path.join(to, rel));
    }
  }
}

interface LockPackage {
  dev?: boolean;
  link?: boolean;
  optional?: boolean;
}

/** Links each top-level production package (nested ones come with their parent's folder). */
function linkProductionDependencies(projectRoot: string, root: string): string[] {
  const lockFile = path.join(projectRoot, 'package-lock.json');
  const lock = JSON.parse(readIfExists(lockFile) ?? '{"packages":{}}') as { packages?: Record<string, LockPackage> };
  const linked: string[] = [];
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    if (!key.startsWith('node_modules/') || entry.dev === true) continue;
    const name = key.slice('node_modules/'.length);
    if (name.includes('/node_modules/')) continue;
    const source = path.join(projectRoot, 'node_modules', name);
    // An optional package for another platform (sharp's prebuilt binaries, say) is not installed here.
    if (!existsSync(source)) {
      if (entry.optional) continue;
      throw new Error(`${name} is a production dependency in package-lock.json but not installed: run npm ci`);
    }
    const target = path.join(root, 'node_modules', name);
    mkdirSync(path.dirname(target), { recursive: true });
    symlinkSync(realpathSync(source), target, 'dir');
    linked.push(name);
  }
  return linked.sort();
}

/** Whether a path (relative to the root, `/`-separated) is ignored; `isDir` for folders. */
export type IgnoreMatcher = (relativePath: string, isDir: boolean) => boolean;

/**
 * gitignore's rules, as `.funcignore` uses them: blank lines and `#` comments skipped, `!` re-includes, a trailing
 * `/` matches folders only, a pattern with a `/` (other than a trailing one) is anchored at the root, one without
 * matches a name at any depth; `*` and `?` stay within a name, `**` spans folders. Anything inside an ignored
 * folder is ignored (a folder is tested before its contents).
 */
export function funcIgnore(text: string): IgnoreMatcher {
  const rules = text
    .split(/\r?\n/)
    .map((line) => line.replace(/(?<!\\)\s+$/, ''))
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      let pattern = negate ? line.slice(1) : line;
      if (pattern.startsWith('\\#') || pattern.startsWith('\\!')) pattern = pattern.slice(1);
      const dirOnly = pattern.endsWith('/');
      if (dirOnly) pattern = pattern.slice(0, -1);
      const anchored = pattern.includes('/');
      if (pattern.startsWith('/')) pattern = pattern.slice(1);
      return { negate, dirOnly, anchored, regex: globRegex(pattern) };
    });
  return (relativePath, isDir) => {
    const name = relativePath.split('/').at(-1)!;
    let ignored = false;
    for (const rule of rules) {
      if (rule.dirOnly && !isDir) continue;
      if (rule.regex.test(rule.anchored ? relativePath : name)) ignored = !rule.negate;
    }
    return ignored;
  };
}

function globRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches zero or more folders; a trailing `**` everything below.
      if (pattern[i + 2] === '/') {
        source += '(?:.*/)?';
        i += 2;
      } else {
        source += '.*';
        i += 1;
      }
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) source += escapeRegex(pattern[++i]!);
    else source += escapeRegex(c);
  }
  return new RegExp(`^${source}$`);
}

function escapeRegex(c: string): string {
  return /[.+^${}()|[\]\\]/.test(c) ? `\\${c}` : c;
}
