// Fuzzing collection plan validation: any JSON, and valid plans with one field mutated, end in a plan or a clear
// InvalidArgumentError, quickly (plans are bounded, and synthesis is linear).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { parsePlan, synthesizeQueries } from '../../src/collect/plan';
import { InvalidArgumentError } from '../../src/errors';
import { fuzzRuns, reportFuzz } from './fuzzRuns';

const valid = {
  dimensions: { item: ['shirt', 'vest'], attribute: ['striped', 'dotted'] },
  template: '{attribute} {item}',
  labelFrom: 'attribute',
};

function check(input: unknown): void {
  const started = performance.now();
  try {
    const plan = parsePlan(input);
    expect(synthesizeQueries(plan).length).toBeGreaterThan(0);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/^collection plan is invalid: /);
  }
  expect(performance.now() - started).toBeLessThan(2000);
}

describe('fuzz: collection plans', () => {
  it('any JSON value is a plan or a named error', () => {
    const runs = fuzzRuns(300);
    let tried = 0;
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (json) => {
        tried++;
        check(json);
      }),
      { numRuns: runs, seed: 1 },
    );
    reportFuzz('collection plans from any JSON', tried, 0);
  });

  it('a valid plan with one field replaced is a plan or a named error', () => {
    const runs = fuzzRuns(300);
    let tried = 0;
    const field = fc.constantFrom(
      'dimensions',
      'template',
      'labelFrom',
      'imagesPerQuery',
      'provider',
      'filters',
      'extra',
    );
    const dims = fc.dictionary(
      fc.string({ maxLength: 12 }),
      fc.array(fc.string({ maxLength: 30 }), { maxLength: 30 }),
      { maxKeys: 20 },
    );
    fc.assert(
      fc.property(field, fc.oneof(fc.jsonValue({ maxDepth: 3 }), dims, fc.string({ maxLength: 600 })), (key, value) => {
        tried++;
        check({ ...valid, [key]: value });
      }),
      { numRuns: runs, seed: 2 },
    );
    reportFuzz('collection plans with a mutated field', tried, 0);
  });
});
