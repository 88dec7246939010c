// Fuzzing the near-duplicate index: random runs of adds, replaces, removes and queries, on hashes drawn from a
// few clusters (bases with up to 60 bits flipped, so answers at the dedup radius 24 and the split radius 48 are
// rarely empty) over a random background, must answer every query exactly as a linear scan of the live entries
// does. Layouts: the one the size picks, and forced substring counts 12..16 (12 is the layout of 1M entries),
// with the tables forced and with the scan fallback allowed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { HammingIndex, HASH_WORDS, packHash, unpackHash } from '../../src/dataset/hammingIndex';
import { mulberry32 } from '../../src/util/seededRandom';
import { oracleSearch } from '../support/hashes';
import { fuzzRuns, reportFuzz } from './fuzzRuns';

const MAX_RADIUS = 64;
const BACKGROUND = 300;

function flip(hex: string, bits: readonly number[]): string {
  const w = packHash(hex);
  for (const bit of bits) w[bit >>> 5]! ^= 1 << (bit & 31);
  return unpackHash(w);
}

const hash = fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 8, maxLength: 8 }).map((words) => {
  return unpackHash(Uint32Array.from(words));
});
const flips = fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 60 });
const op = fc.oneof(
  {
    arbitrary: fc.record({ kind: fc.constant('add' as const), id: fc.nat(40), base: fc.nat(5), flips }),
    weight: 5,
  },
  { arbitrary: fc.record({ kind: fc.constant('remove' as const), id: fc.nat(40) }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant('query' as const),
      base: fc.nat(5),
      flips,
      radius: fc.constantFrom(0, 8, 24, 47, 48, 49, MAX_RADIUS),
    }),
    weight: 4,
  },
);
const scenario = fc.record({
  bases: fc.array(hash, { minLength: 6, maxLength: 6 }),
  ops: fc.array(op, { minLength: 1, maxLength: 40 }),
  substrings: fc.constantFrom(undefined, 12, 13, 14, 15, 16),
  scanFallback: fc.boolean(),
  seed: fc.nat(),
});

describe('fuzz: HammingIndex against a linear scan', () => {
  it('answers every search and nearest query exactly, through adds, replaces and removes', () => {
    const runs = fuzzRuns(60);
    let tried = 0;
    fc.assert(
      fc.property(scenario, ({ bases, ops, substrings, scanFallback, seed }) => {
        const index = new HammingIndex<number>({ maxRadius: MAX_RADIUS, scanFallback, substrings });
        const live = new Map<string, string>();
        const rand = mulberry32(seed);
        for (let i = 0; i < BACKGROUND; i++) {
          const words = new Uint32Array(HASH_WORDS);
          for (let w = 0; w < HASH_WORDS; w++) words[w] = rand();
          const hex = unpackHash(words);
          index.add(`bg${i}`, hex, -1);
          live.set(`bg${i}`, hex);
        }
        ops.forEach((o, step) => {
          if (o.kind === 'add') {
            const hex = flip(bases[o.base]!, o.flips);
            index.add(`e${o.id}`, hex, step);
            live.set(`e${o.id}`, hex);
          } else if (o.kind === 'remove') {
            expect(index.remove(`e${o.id}`)).toBe(live.delete(`e${o.id}`));
          } else {
            tried++;
            const q = flip(bases[o.base]!, o.flips);
            const want = oracleSearch(live, q, o.radius);
            expect(index.search(q, o.radius).map(({ id, distance }) => ({ id, distance }))).toEqual(want);
            const nearest = index.nearest(q, o.radius);
            expect(nearest && { id: nearest.id, distance: nearest.distance }).toEqual(want[0]);
          }
          expect(index.size).toBe(live.size);
        });
      }),
      { numRuns: runs, seed: 23 },
    );
    reportFuzz('HammingIndex search and nearest against a linear scan', tried, 0);
  });
});
