import { describe, expect, it } from 'vitest';

import { parsePlan, PLAN_LIMITS, planExpansion, synthesizeQueries } from '../../src/collect/plan';
import { InvalidArgumentError } from '../../src/errors';

const clothing = {
  dimensions: {
    item: ['blouse', 'hoodie', 'pullover', 'sweater', 'shirt', 't-shirt', 'vest'],
    attribute: ['striped', 'dotted', 'leopard'],
  },
  template: '{attribute} {item}',
  labelFrom: 'attribute',
};

describe('collection plans', () => {
  it('synthesises the 7 x 3 example into 21 queries labelled by attribute', () => {
    const plan = parsePlan(clothing);
    expect(plan).toMatchObject({
      imagesPerQuery: 50,
      provider: 'bing',
      filters: { imageType: 'Photo', safeSearch: 'Strict' },
    });
    const queries = synthesizeQueries(plan);
    expect(queries).toHaveLength(21);
    expect(queries[0]).toEqual({
      query: 'striped blouse',
      label: 'striped',
      terms: { item: 'blouse', attribute: 'striped' },
    });
    expect(queries.find((q) => q.query === 'leopard t-shirt')?.label).toBe('leopard');
    expect(new Set(queries.map((q) => q.label))).toEqual(new Set(['striped', 'dotted', 'leopard']));
    expect(new Set(queries.map((q) => q.query)).size).toBe(21);
  });

  it('labels by item, or by both dimensions joined with "-"', () => {
    expect(new Set(synthesizeQueries(parsePlan({ ...clothing, labelFrom: 'item' })).map((q) => q.label)).size).toBe(7);
    const both = synthesizeQueries(parsePlan({ ...clothing, labelFrom: ['attribute', 'item'] }));
    expect(both.map((q) => q.label)).toContain('leopard-t-shirt');
    expect(new Set(both.map((q) => q.label)).size).toBe(21);
  });

  it('takes one dimension, or three', () => {
    expect(
      synthesizeQueries(
        parsePlan({ dimensions: { animal: ['cat', 'dog'] }, template: '{animal} photo', labelFrom: 'animal' }),
      ),
    ).toHaveLength(2);
    const three = parsePlan({
      dimensions: { a: ['x', 'y'], b: ['p', 'q'], c: ['1', '2', '3'] },
      template: '{a} {b} {c}',
      labelFrom: ['c'],
    });
    expect(synthesizeQueries(three)).toHaveLength(12);
  });

  it.each([
    [{ ...clothing, labelFrom: 'colour' }, /labelFrom: "colour" is not a dimension/],
    [{ ...clothing, template: '{pattern} {item}' }, /template: \{pattern\} is not a dimension/],
    [{ ...clothing, template: '{item}' }, /template: dimension "attribute" is not used/],
    [{ ...clothing, imagesPerQuery: 0 }, /imagesPerQuery/],
    [{ ...clothing, provider: 'google' }, /provider/],
    [{ ...clothing, filters: { safeSearch: 'Maybe' } }, /filters\.safeSearch/],
    [{ ...clothing, filters: { market: 'english' } }, /filters\.market: must be a market code/],
    [{ ...clothing, filters: { colour: 'red' } }, /filters/],
    [{ ...clothing, dimensions: { item: [], attribute: ['a'] } }, /dimensions\.item: needs at least one term/],
    [{ ...clothing, dimensions: { item: ['a', 'a'], attribute: ['b'] } }, /dimensions\.item: "a" appears twice/],
    [
      { ...clothing, dimensions: { item: ['shirt'], attribute: ['../etc'] } },
      /labelFrom: label "\.\.\/etc" is invalid/,
    ],
    [{ ...clothing, extra: true }, /extra/],
    ['not an object', /expected object/],
  ])('names the bad field: %#', (json, message) => {
    expect(() => parsePlan(json)).toThrow(InvalidArgumentError);
    expect(() => parsePlan(json)).toThrow(message);
  });
});

describe('collection plan limits', () => {
  const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`d${i}`, ['x']]));
  const fields = (dimensions: Record<string, string[]>) =>
    Object.keys(dimensions)
      .map((d) => `{${d}}`)
      .join(' ');

  it('names the bound that a plan breaks: dimensions, terms, template', () => {
    const dims = many(PLAN_LIMITS.dimensions + 1);
    expect(() => parsePlan({ dimensions: dims, template: fields(dims), labelFrom: 'd0' })).toThrow(
      /dimensions: at most 16 dimensions/,
    );
    const terms = { item: Array.from({ length: PLAN_LIMITS.termsPerDimension + 1 }, (_, i) => `t${i}`) };
    expect(() => parsePlan({ dimensions: terms, template: '{item}', labelFrom: 'item' })).toThrow(
      /dimensions\.item: at most 500 terms per dimension/,
    );
    expect(() =>
      parsePlan({
        dimensions: { item: ['x'] },
        template: `{item}${' '.repeat(PLAN_LIMITS.templateLength)}`,
        labelFrom: 'item',
      }),
    ).toThrow(/template: /);
  });

  it('synthesises the largest plans it accepts in their output size', () => {
    // 16 dimensions (2 x 2 x ... x 1): 2,048 combinations would be over the query limit; 2^10 x 1^6 = 1,024 is not.
    const dimensions = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`d${i}`, i < 10 ? ['a', 'b'] : ['c']]));
    const plan = parsePlan({ dimensions, template: fields(dimensions), labelFrom: 'd0' });
    const queries = synthesizeQueries(plan);
    expect(queries).toHaveLength(1024);
    expect(new Set(queries.map((q) => q.query)).size).toBe(1024);
    expect(queries[0]!.query).toBe('a a a a a a a a a a c c c c c c');
    expect(queries[1]!.query).toBe('a a a a a a a a a b c c c c c c');
    expect(queries[1023]!.terms).toMatchObject({ d0: 'b', d9: 'b', d15: 'c' });
  });

  it('refuses a small plan whose queries would expand to megabytes, naming the limit, without expanding it', () => {
    // 51 KB of JSON: {a} 165 times, 500 terms of 100 characters by 4; once 2,000 queries of 16.5 KB, 32.7 MB answered.
    const plan = bigExpansionPlan();
    expect(JSON.stringify(plan).length).toBeGreaterThan(50_000);
    expect(JSON.stringify(plan).length).toBeLessThan(PLAN_LIMITS.bytes);
    const started = performance.now();
    expect(() => parsePlan(plan)).toThrow(
      /^collection plan is invalid: template: the longest query would have 16\d{3} characters, more than 500 \(PLAN_LIMITS\.queryChars\)/,
    );
    expect(performance.now() - started).toBeLessThan(200);
  });

  it('refuses a plan whose queries together would take more than the expansion limit', () => {
    // 2,000 queries of about 410 characters each: every query is within its limit, all together are not.
    const dimensions = {
      a: Array.from({ length: 500 }, (_, i) => `${'a'.repeat(96)}${String(i).padStart(3, '0')}`),
      b: ['striped', 'dotted', 'leopard', 'plain'],
    };
    expect(() => parsePlan({ dimensions, template: '{a} {a} {a} {a} {b}', labelFrom: 'b' })).toThrow(
      /dimensions: the 2000 queries would take about \d+ bytes of JSON, more than 1048576 \(PLAN_LIMITS\.expansionBytes\)/,
    );
  });

  it('estimates the expansion from above, closely, without synthesising it', () => {
    const plan = parsePlan({ ...clothing, labelFrom: ['attribute', 'item'], template: '{attribute} "{item}"  {item}' });
    const actual = Buffer.byteLength(JSON.stringify(synthesizeQueries(plan)));
    const estimate = planExpansion(plan);
    expect(estimate.queries).toBe(21);
    expect(estimate.bytes).toBeGreaterThanOrEqual(actual);
    expect(estimate.bytes).toBeLessThan(actual * 1.1);
    // The longest terms together, before the double space collapses: 'striped "pullover"  pullover'.
    expect(estimate.longestQueryChars).toBe(28);
  });
});

/** The plan of the review: small to send, 32.7 MB once expanded. */
function bigExpansionPlan(): Record<string, unknown> {
  return {
    dimensions: {
      a: Array.from({ length: 500 }, (_, i) => `${'a'.repeat(97)}${String(i).padStart(3, '0')}`),
      b: ['striped', 'dotted', 'leopard', 'plain'],
    },
    template: `${'{a}'.repeat(165)}{b}`,
    labelFrom: 'b',
  };
}
