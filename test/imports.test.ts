// The import graph of the production code has no circles, type-only imports included (ESLint's import-x/no-cycle
// skips those, yet a circle of types is still two modules that cannot be understood one without the other).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const SPECIFIER =
  /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
const specifierOf = (match: RegExpMatchArray) => (match[1] ?? match[2] ?? match[3])!;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [full] : [];
  });
}

function resolveImport(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), specifier);
  return [`${base}.ts`, path.join(base, 'index.ts'), base].find(
    (candidate) => existsSync(candidate) && statSync(candidate).isFile(),
  );
}

/** The import graph of the given files: file -> the project files it imports. */
function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = new Set<string>();
    for (const match of text.matchAll(SPECIFIER)) {
      const target = resolveImport(file, specifierOf(match));
      if (target) targets.add(target);
    }
    graph.set(file, [...targets]);
  }
  return graph;
}

/** Strongly connected components with more than one member (or a self-import): Tarjan's algorithm. */
function importCircles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) circles.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return circles;
}

describe('the import graph', () => {
  it('finds a circle, type-only imports included, when there is one', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(importCircles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    const text =
      "import type { X } from './b';\nexport { y } from './c';\nimport './e';\nconst z = await import('./d');";
    expect([...text.matchAll(SPECIFIER)].map(specifierOf)).toEqual(['./b', './c', './e', './d']);
  });

  it('of src/ and functions/ has no circles', () => {
    const graph = importGraph([...sourceFiles(path.join(root, 'src')), ...sourceFiles(path.join(root, 'functions'))]);
    expect(graph.size).toBeGreaterThan(50);
    const circles = importCircles(graph).map((circle) => circle.map((file) => path.relative(root, file)));
    expect(circles).toEqual([]);
  });

  // The rooms' floors: no arrow runs back up. ESLint's zones say the same (eslint.config.mjs); this reads the graph
  // itself, type-only imports included, so that a zone dropped from the lint config is still caught.
  const ROOMS_THAT_MAY_NOT_IMPORT: readonly [room: string, forbidden: readonly string[]][] = [
    ['src/serve', ['src/train', 'src/review']],
    ['src/train', ['src/serve', 'src/review']],
    ['src/model', ['src/train', 'src/serve', 'src/review']],
    ['src/config.ts', ['src/train', 'src/serve', 'src/review', 'src/model']],
    ['src/platform', ['src/train', 'src/serve', 'src/review', 'src/model']],
  ];

  it.each(ROOMS_THAT_MAY_NOT_IMPORT)('of %s reaches none of %j', (room, forbidden) => {
    const graph = importGraph(sourceFiles(path.join(root, 'src')));
    const inside = (file: string, folder: string) => {
      const relative = path.relative(root, file);
      return relative === folder || relative.startsWith(`${folder}/`);
    };
    const arrows = [...graph].flatMap(([from, targets]) =>
      inside(from, room)
        ? targets
            .filter((target) => forbidden.some((folder) => inside(target, folder)))
            .map((target) => `${path.relative(root, from)} -> ${path.relative(root, target)}`)
        : [],
    );
    expect([...graph.keys()].some((file) => inside(file, room))).toBe(true);
    expect(arrows).toEqual([]);
  });
});
