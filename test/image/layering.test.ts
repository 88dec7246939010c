// src/image/ is the bottom layer that dataset/, train/ and serve/ build on: it imports only util/ and errors.ts.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

const src = path.resolve(__dirname, '..', '..', 'src');
const imageDir = path.join(src, 'image');
const ALLOWED = [imageDir, path.join(src, 'util'), path.join(src, 'errors')];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : name.endsWith('.ts') ? [full] : [];
  });
}

describe('src/image layering', () => {
  it('imports nothing from src/ above it', () => {
    const outside: string[] = [];
    for (const file of files(imageDir)) {
      for (const match of readFileSync(file, 'utf8').matchAll(/from\s+'(\.[^']*)'/g)) {
        const target = path.resolve(path.dirname(file), match[1]!);
        const allowed = ALLOWED.some((dir) => target === dir || target.startsWith(dir + path.sep));
        if (!allowed) outside.push(`${path.relative(src, file)} imports ${match[1]}`);
      }
    }
    expect(files(imageDir).length).toBeGreaterThan(5);
    expect(outside).toEqual([]);
  });
});
