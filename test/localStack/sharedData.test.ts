// The shared-data lookup that tests and benchmarks use: found from source, and a missing path named in the error.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { sharedDataPath } from '../../src/localStack/sharedData';
import { itWithShared } from '../support/shared';

describe('sharedDataPath', () => {
  itWithShared('finds ../shared beside the project', () => {
    const fixtures = sharedDataPath('fixtures', 'dhash');
    expect(fixtures).toBe(path.resolve(__dirname, '..', '..', '..', 'shared', 'fixtures', 'dhash'));
    expect(existsSync(fixtures)).toBe(true);
  });

  it('names what is missing', () => {
    const missing = /\.\.\/shared\/datasets\/no-such-set is missing \(.*no-such-set\)/;
    expect(() => sharedDataPath('datasets', 'no-such-set')).toThrow(missing);
  });
});
