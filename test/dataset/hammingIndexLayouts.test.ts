// The index's layouts and its query plan's bookkeeping: forced substring counts (12 is the layout the index
// takes from about 250k entries up, so a million-entry index is checked here at a size a test can afford) at
// the split radius 48 and the dedup radius 24 against a linear scan, on clustered data; and the occupancy and
// shared-bucket bitmaps that let a query skip empty buckets and single entries, through removals and replaces.
import { describe, expect, it } from 'vitest';

import { HammingIndex, HASH_WORDS } from '../../src/dataset/hammingIndex';
import { mulberry32 } from '../../src/util/seededRandom';
import { flipBits, oracleSearch, randomHex } from '../support/hashes';

type Rand = () => number;

/** A uniform background plus clusters of edited copies (1..56 bits from their original), as bench/index.ts makes. */
function clusteredData(n: number, rand: Rand): { entries: Map<string, string>; originals: string[] } {
  const entries = new Map<string, string>();
  const originals: string[] = [];
  while (entries.size < n / 5) {
    const original = randomHex(rand);
    originals.push(original);
    entries.set(`c${entries.size}`, original);
    for (let c = 1 + (rand() % 7); c > 0; c--)
      entries.set(`c${entries.size}`, flipBits(original, 1 + (rand() % 56), rand));
  }
  while (entries.size < n) entries.set(`u${entries.size}`, randomHex(rand));
  return { entries, originals };
}

interface Internals {
  m: number;
  subs: { width: number }[];
  heads: Int32Array[];
  nexts: Int32Array[];
  occupied: Int32Array[];
  shared: Int32Array[];
  flush(): void;
}

/** Every bucket's bits agree with its chain: occupied iff it has a head, shared iff it has two entries or more. */
function expectBitmapsMatchChains(index: HammingIndex<unknown>): number {
  const inner = index as unknown as Internals;
  inner.flush();
  let sharedBuckets = 0;
  for (let j = 0; j < inner.m; j++) {
    const head = inner.heads[j]!;
    const next = inner.nexts[j]!;
    const bad: number[] = [];
    for (let key = 0; key < head.length; key++) {
      const bit = (word: Int32Array): number => (word[key >>> 5]! >>> (key & 31)) & 1;
      const first = head[key]!;
      const length = first === 0 ? 0 : next[first - 1] === 0 ? 1 : 2;
      if (bit(inner.occupied[j]!) !== (length > 0 ? 1 : 0) || bit(inner.shared[j]!) !== (length > 1 ? 1 : 0)) {
        bad.push(key);
      }
      if (length > 1) sharedBuckets++;
    }
    expect({ table: j, bad }).toEqual({ table: j, bad: [] });
  }
  return sharedBuckets;
}

describe('HammingIndex layouts at the split radius', () => {
  const rand = mulberry32(48);
  const { entries, originals } = clusteredData(6000, rand);
  const queries = [
    ...Array.from({ length: 12 }, () => randomHex(rand)),
    ...Array.from({ length: 24 }, (_, i) => flipBits(originals[i]!, i % 50, rand)),
  ];

  it.each([12, 13, 14, 15, 16])('substrings: %i finds exactly the scan matches at r = 24, 47, 48, 49', (m) => {
    const index = new HammingIndex<number>({ maxRadius: 64, scanFallback: false, substrings: m });
    let i = 0;
    for (const [id, hex] of entries) index.add(id, hex, i++);
    expect(index.substringCount).toBe(m); // fixed: crossing the growth sizes does not re-layout
    let found = 0;
    for (const q of queries) {
      for (const r of [24, 47, 48, 49]) {
        const want = oracleSearch(entries, q, r);
        expect(index.search(q, r).map(({ id, distance }) => ({ id, distance }))).toEqual(want);
        found += want.length;
      }
    }
    expect(found).toBeGreaterThan(100); // the copies are found, not only empty answers compared
  });

  it('keeps its bitmaps in step with the chains through replaces and removes, and stays exact', () => {
    const rng = mulberry32(3);
    // m = 12 at 6000 entries: 21-22-bit tables, so chains of two or more are rare but present; a cluster
    // of identical substrings makes long chains too.
    const index = new HammingIndex<number>({ maxRadius: 48, scanFallback: false, substrings: 12 });
    const live = new Map<string, string>();
    const base = randomHex(rng);
    for (let i = 0; i < 6000; i++) {
      const hex = i < 200 ? flipBits(base, i % 9, rng) : randomHex(rng);
      index.add(`e${i}`, hex, i);
      live.set(`e${i}`, hex);
    }
    expect(expectBitmapsMatchChains(index)).toBeGreaterThan(0);
    for (let step = 0; step < 3000; step++) {
      const id = `e${rng() % 6000}`;
      const roll = rng() % 3;
      if (roll === 0) {
        index.remove(id);
        live.delete(id);
      } else {
        const hex = roll === 1 ? flipBits(base, rng() % 9, rng) : randomHex(rng);
        index.add(id, hex, step);
        live.set(id, hex);
      }
    }
    expectBitmapsMatchChains(index);
    for (const q of [base, flipBits(base, 20, rng), randomHex(rng)]) {
      for (const r of [24, 48]) {
        expect(index.search(q, r).map(({ id, distance }) => ({ id, distance }))).toEqual(oracleSearch(live, q, r));
      }
    }
  });

  it('reports its typed-array memory by role', () => {
    const index = new HammingIndex({ maxRadius: 48, substrings: 12 });
    const bytes = index.typedArrayBytes;
    // 4 tables of 22 bits and 8 of 21: heads 4 B per bucket, each bitmap 1 bit per bucket (two bitmaps)
    expect(bytes.heads).toBe(4 * 2 ** 22 * 4 + 8 * 2 ** 21 * 4);
    expect(bytes.occupancy).toBe((2 * (4 * 2 ** 22 + 8 * 2 ** 21)) / 8);
    expect(bytes.chains).toBe(12 * 1024 * 4); // the initial capacity of 1024 slots
    expect(bytes.hashes).toBe(1024 * (HASH_WORDS * 4 + 4));
  });

  it('rejects a substring count outside 12..64', () => {
    for (const bad of [11, 65, 12.5, Number.NaN]) {
      expect(() => new HammingIndex({ maxRadius: 8, substrings: bad })).toThrow(
        /substrings must be an integer from 12 to 64/,
      );
    }
    expect(new HammingIndex({ maxRadius: 8, substrings: 64 }).substringCount).toBe(64);
  });
});
