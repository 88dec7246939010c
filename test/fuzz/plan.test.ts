// Fuzzing collection plan validation: any JSON, and valid plans with one field mutated, end in a plan or a clear
// InvalidArgumentError, quickly (plans are bounded, and synthesis is linear); and plans built to expand far (fields
// repeated in the template, many long terms) are refused naming the limit, or expand within it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { parsePlan, PLAN_LIMITS, planExpansion, synthesizeQueries } from '../../src/collect/plan';
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

  it('a plan that would expand far is refused naming the limit, or expands within it', () => {
    const runs = fuzzRuns(150);
    let tried = 0;
    let accepted = 0;
    // Term counts and lengths up to the schema's own limits, and templates that repeat a field up to 160 times.
    const dimension = fc.record({
      terms: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: PLAN_LIMITS.termsPerDimension })),
      length: fc.integer({ min: 3, max: 100 }),
      repeats: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 40 })),
    });
    // And plans near both bounds at once: up to 2,000 queries of a few hundred characters each.
    const nearLimit = fc.tuple(
      fc.record({
        terms: fc.integer({ min: 300, max: 500 }),
        length: fc.integer({ min: 60, max: 100 }),
        repeats: fc.integer({ min: 2, max: 5 }),
      }),
      fc.record({ terms: fc.constant(4), length: fc.integer({ min: 3, max: 20 }), repeats: fc.constant(1) }),
    );
    const refusals = new Map<string, number>();
    fc.assert(
      fc.property(fc.oneof(fc.array(dimension, { minLength: 1, maxLength: 3 }), nearLimit), (shape) => {
        tried++;
        const names = shape.map((_, d) => `d${d}`);
        const dimensions = Object.fromEntries(
          shape.map(({ terms, length }, d) => [
            names[d]!,
            Array.from({ length: terms }, (_, i) => `${'abc'[d]!.repeat(length - 3)}${String(i).padStart(3, '0')}`),
          ]),
        );
        const template = shape.map(({ repeats }, d) => `{${names[d]}} `.repeat(repeats)).join('');
        const input = { dimensions, template, labelFrom: names.at(-1)! };
        const started = performance.now();
        let plan;
        try {
          plan = parsePlan(input);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidArgumentError);
          expect((error as Error).message).toMatch(
            /PLAN_LIMITS\.(queryChars|expansionBytes)|combinations, more than 2000|template: Too big: expected string to have <=500 characters|labelFrom: /,
          );
          expect(performance.now() - started).toBeLessThan(500);
          const limit = /PLAN_LIMITS\.\w+|combinations|Too big|labelFrom/.exec((error as Error).message)![0];
          refusals.set(limit, (refusals.get(limit) ?? 0) + 1);
          return;
        }
        accepted++;
        const queries = synthesizeQueries(plan);
        const bytes = Buffer.byteLength(JSON.stringify(queries));
        expect(bytes).toBeLessThanOrEqual(PLAN_LIMITS.expansionBytes);
        expect(bytes).toBeLessThanOrEqual(planExpansion(plan).bytes);
        for (const { query } of queries) expect(query.length).toBeLessThanOrEqual(PLAN_LIMITS.queryChars);
        expect(performance.now() - started).toBeLessThan(2000);
      }),
      { numRuns: runs, seed: 3 },
    );
    const refused = [...refusals].map(([limit, count]) => `${count} ${limit}`).join(', ');
    reportFuzz(`collection plans that expand far (${accepted} accepted; refused: ${refused})`, tried, 0);
    // Both bounds of the expansion are met now and then, and many plans pass.
    expect(refusals.get('PLAN_LIMITS.queryChars')).toBeGreaterThan(0);
    expect(refusals.get('PLAN_LIMITS.expansionBytes')).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(runs / 10);
  }, 600_000);
});
