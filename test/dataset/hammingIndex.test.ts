import { describe, expect, it } from 'vitest';

import { HammingIndex, HASH_WORDS, linearScan, packHash, unpackHash } from '../../src/dataset/hammingIndex';
import { hammingDistance, popcount32 } from '../../src/image/dhash';
import { mulberry32 } from '../../src/util/seededRandom';
import { flipBits, type Hit, oracleSearch, randomHex } from '../support/hashes';

// ---------------------------------------------------------------------------
// helpers

/** Distance computed digit by digit from the strings: shares no code with the index. */
const NIBBLE_BITS = [0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4];
function naiveDistance(a: string, b: string): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += NIBBLE_BITS[parseInt(a[i]!, 16) ^ parseInt(b[i]!, 16)]!;
  return d;
}

function hits<T>(matches: { id: string; distance: number; value: T }[]): Hit[] {
  return matches.map(({ id, distance }) => ({ id, distance }));
}

const MAX_RADIUS = 64;
const RADII = [0, 1, 8, 24, 48, MAX_RADIUS];

// ---------------------------------------------------------------------------

describe('bit helpers and the oracle', () => {
  it('pack/unpack round-trip; popcount and distances agree with a digit-by-digit count', () => {
    const rand = mulberry32(1);
    expect(popcount32(0)).toBe(0);
    expect(popcount32(0xffffffff)).toBe(32);
    expect(popcount32(0x80000001)).toBe(2);
    for (let i = 0; i < 300; i++) {
      const a = randomHex(rand);
      const b = i % 3 === 0 ? flipBits(a, i % 70, rand) : randomHex(rand);
      expect(unpackHash(packHash(a))).toBe(a);
      expect(hammingDistance(a, b)).toBe(naiveDistance(a, b));
    }
    expect(unpackHash(packHash('F'.repeat(64)))).toBe('f'.repeat(64)); // uppercase accepted
  });

  it('linearScan returns exactly the entries within the radius', () => {
    const rand = mulberry32(2);
    const q = randomHex(rand);
    const hexes = Array.from({ length: 400 }, (_, i) => (i % 2 ? flipBits(q, i % 80, rand) : randomHex(rand)));
    const words = new Uint32Array(hexes.length * HASH_WORDS);
    hexes.forEach((h, i) => packHash(h, words, i * HASH_WORDS));
    for (const r of [0, 10, 40, 79, 128]) {
      const expected = hexes
        .map((h, index) => ({ index, distance: naiveDistance(h, q) }))
        .filter((h) => h.distance <= r);
      expect(linearScan(words, hexes.length, packHash(q), r)).toEqual(expected);
    }
  });
});

describe('HammingIndex against the linear-scan oracle', () => {
  // One data set: 3000 random hashes plus, for each r, neighbours planted at
  // exactly r-1, r and r+1 bits from a few queries (two per distance, so ties occur).
  const rand = mulberry32(42);
  const entries = new Map<string, string>();
  for (let i = 0; i < 3000; i++) entries.set(`rand-${String(i).padStart(4, '0')}`, randomHex(rand));
  const queries: { r: number; k: number; hex: string }[] = [];
  const stored = [...entries.values()];
  for (const r of RADII) {
    for (let k = 0; k < 3; k++) {
      // one query off the data, two on stored hashes (which must come back at distance 0)
      const q = k === 0 ? randomHex(rand) : stored[rand() % stored.length]!;
      queries.push({ r, k, hex: q });
      for (const d of [r - 1, r, r + 1]) {
        if (d < 0) continue;
        for (const copy of ['a', 'b']) entries.set(`plant-r${r}-q${k}-d${d}-${copy}`, flipBits(q, d, rand));
      }
    }
  }

  for (const scanFallback of [true, false]) {
    it(`finds exactly the oracle's matches for r in ${RADII.join(', ')} (scanFallback: ${scanFallback})`, () => {
      const index = new HammingIndex<string>({ maxRadius: MAX_RADIUS, scanFallback });
      for (const [id, hex] of entries) index.add(id, hex, `value of ${id}`);
      expect(index.size).toBe(entries.size);
      // crossing ~1.4k and ~2.2k entries rebuilt the tables with fewer, wider substrings
      expect(index.substringCount).toBeLessThan(21);

      for (const { r: plantedAt, k, hex } of queries) {
        for (const r of RADII) {
          const got = index.search(hex, r);
          const want = oracleSearch(entries, hex, r);
          expect(hits(got)).toEqual(want);
          for (const m of got) expect(m.value).toBe(`value of ${m.id}`);
          if (r === plantedAt) {
            // this query's planted neighbours sit on the boundary: r-1 and r in, r+1 out
            const ids = new Set(got.map((m) => m.id));
            for (const d of [r - 1, r, r + 1].filter((x) => x >= 0)) {
              for (const copy of ['a', 'b']) expect(ids.has(`plant-r${r}-q${k}-d${d}-${copy}`)).toBe(d <= r);
            }
          }
        }
        const nearest = index.nearest(hex, plantedAt);
        const want = oracleSearch(entries, hex, plantedAt)[0];
        expect(nearest && { id: nearest.id, distance: nearest.distance }).toEqual(want);
      }
    });
  }

  it.each([true, false])(
    'stays exact through interleaved adds, replaces, removes and queries (scanFallback: %s)',
    (scanFallback) => {
      const rng = mulberry32(7);
      const index = new HammingIndex<number>({ maxRadius: 48, scanFallback });
      const live = new Map<string, string>();
      let nextId = 0;
      for (let step = 0; step < 4000; step++) {
        const roll = rng() % 100;
        const ids = [...live.keys()];
        if (roll < 60 || ids.length === 0) {
          // new entries, half of them near an existing one
          const base = ids.length > 0 && rng() % 2 ? live.get(ids[rng() % ids.length]!)! : randomHex(rng);
          const id = `e${nextId++}`;
          const hex = flipBits(base, rng() % 30, rng);
          index.add(id, hex, step);
          live.set(id, hex);
        } else if (roll < 75) {
          const id = ids[rng() % ids.length]!;
          const hex = rng() % 2 ? randomHex(rng) : flipBits(live.get(id)!, 3, rng);
          index.add(id, hex, step); // replace
          live.set(id, hex);
        } else if (roll < 90) {
          const id = ids[rng() % ids.length]!;
          expect(index.remove(id)).toBe(true);
          live.delete(id);
        } else {
          const q = flipBits(live.get(ids[rng() % ids.length]!)!, rng() % 20, rng);
          const r = [0, 8, 24, 48][rng() % 4]!;
          expect(hits(index.search(q, r))).toEqual(oracleSearch(live, q, r));
        }
        expect(index.size).toBe(live.size);
      }
      // and a final full check
      for (let i = 0; i < 20; i++) {
        const q = flipBits([...live.values()][i]!, 10, rng);
        expect(hits(index.search(q, 24))).toEqual(oracleSearch(live, q, 24));
      }
    },
  );

  it('finds worst-case neighbours that match in exactly one substring (pigeonhole boundary)', () => {
    // Rebuild the index's substring layout from its public substring count:
    // m contiguous substrings from the most significant bit, the first 256 % m
    // one bit wider. For r = s·m + a, substring j is probed at radius s for
    // j ≤ a and s−1 otherwise. Flipping (that radius + 1) bits in every
    // substring but one, and exactly its radius in the one, gives distance r
    // and a single substring through which the match can be found. Flipped
    // bits sit at substring edges, where extraction across words can go wrong.
    const rng = mulberry32(5);
    const n = 3000;
    const index = new HammingIndex({ maxRadius: MAX_RADIUS, scanFallback: false });
    for (let i = 0; i < n; i++) index.add(`bg${i}`, randomHex(rng), undefined);
    const m = index.substringCount;
    const starts: number[] = [];
    for (let j = 0, start = 0; j <= m; j++) {
      starts.push(start);
      start += Math.floor(256 / m) + (j < 256 % m ? 1 : 0);
    }
    /** k bits of substring j, alternating from its two edges inwards */
    const edgeBits = (j: number, k: number): number[] => {
      const lo = starts[j]!;
      const hi = starts[j + 1]! - 1;
      return Array.from({ length: k }, (_, i) => (i % 2 ? hi - (i >> 1) : lo + (i >> 1)));
    };
    const flip = (hex: string, bits: number[]): string => {
      const w = packHash(hex);
      for (const bit of bits) w[bit >>> 5]! ^= 1 << (31 - (bit & 31)); // bit 0 = most significant
      return unpackHash(w);
    };
    let checked = 0;
    for (const r of RADII) {
      const s = Math.floor(r / m);
      const a = r - s * m;
      const probeRadius = (j: number): number => (j <= a ? s : s - 1);
      for (let t = 0; t < m; t++) {
        if (probeRadius(t) < 0) continue;
        const q = randomHex(rng);
        const bits: number[] = [];
        for (let j = 0; j < m; j++) bits.push(...edgeBits(j, probeRadius(j) + (j === t ? 0 : 1)));
        const exact = flip(q, bits); // distance r, reachable only through substring t
        expect(naiveDistance(q, exact)).toBe(r);
        const over = flip(exact, edgeBits(t, probeRadius(t) + 1).slice(-1)); // one more bit in t: r + 1
        expect(naiveDistance(q, over)).toBe(r + 1);
        index.add('exact', exact, undefined);
        index.add('over', over, undefined);
        expect(index.search(q, r).map((x) => x.id)).toEqual(['exact']);
        if (r > 0) expect(index.search(q, r - 1)).toEqual([]);
        if (r < MAX_RADIUS) expect(index.search(q, r + 1).map((x) => x.id)).toEqual(['exact', 'over']);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('handles radius 0 and radius 128 indexes', () => {
    const rng = mulberry32(9);
    const small = new Map<string, string>();
    for (let i = 0; i < 300; i++) small.set(`s${i}`, i % 3 ? randomHex(rng) : flipBits('0'.repeat(64), i % 129, rng));
    for (const maxRadius of [0, 128]) {
      for (const scanFallback of [true, false]) {
        const index = new HammingIndex({ maxRadius, scanFallback });
        for (const [id, hex] of small) index.add(id, hex, undefined);
        for (const q of ['0'.repeat(64), small.get('s5')!]) {
          for (const r of [0, maxRadius]) expect(hits(index.search(q, r))).toEqual(oracleSearch(small, q, r));
        }
      }
    }
  });

  it('stays correct when the per-query stamp counter wraps around', () => {
    const rng = mulberry32(11);
    const index = new HammingIndex({ maxRadius: 24, scanFallback: false });
    const map = new Map<string, string>();
    const base = randomHex(rng);
    for (let i = 0; i < 50; i++) {
      const hex = flipBits(base, i % 30, rng);
      map.set(`w${i}`, hex);
      index.add(`w${i}`, hex, undefined);
    }
    (index as unknown as { epoch: number }).epoch = 0xffffffff - 2;
    for (let i = 0; i < 6; i++) expect(hits(index.search(base, 24))).toEqual(oracleSearch(map, base, 24));
  });
});

describe('HammingIndex API', () => {
  const zero = '0'.repeat(64);
  const one = '0'.repeat(63) + '1'; // distance 1 from zero
  const three = '0'.repeat(63) + '7'; // distance 3 from zero
  const far = 'f'.repeat(64); // distance 256 from zero

  // Tiny indexes would always take the scan fallback, so run both paths.
  it.each([true, false])('removes and replaces entries (scanFallback: %s)', (scanFallback) => {
    const index = new HammingIndex<string>({ maxRadius: 24, scanFallback });
    index.add('a', zero, 'A');
    index.add('b', one, 'B');
    expect(index.size).toBe(2);
    expect(index.has('a')).toBe(true);

    index.add('a', far, 'A2'); // replace: moves away from zero
    expect(index.size).toBe(2);
    expect(index.search(zero, 24)).toEqual([{ id: 'b', distance: 1, value: 'B' }]);
    expect(index.search(far, 0)).toEqual([{ id: 'a', distance: 0, value: 'A2' }]);

    expect(index.remove('b')).toBe(true);
    expect(index.remove('b')).toBe(false);
    expect(index.remove('never')).toBe(false);
    expect(index.has('b')).toBe(false);
    expect(index.size).toBe(1);
    expect(index.search(zero, 24)).toEqual([]);

    index.add('c', three, 'C'); // reuses b's slot
    expect(index.search(zero, 24)).toEqual([{ id: 'c', distance: 3, value: 'C' }]);
    // remove, and re-add into the freed slot, before any query has linked the entry
    index.add('e', three, 'E');
    index.remove('e');
    index.add('f', one, 'F');
    index.remove('f');
    expect(index.search(zero, 24)).toEqual([{ id: 'c', distance: 3, value: 'C' }]);
    // replace before any query has linked the entry
    index.add('d', zero, 'D');
    index.add('d', one, 'D2');
    expect(index.search(zero, 24).map((m) => [m.id, m.distance, m.value])).toEqual([
      ['d', 1, 'D2'],
      ['c', 3, 'C'],
    ]);
  });

  it.each([true, false])(
    'orders nearest first, ties by id, honours limit, finds the nearest (scanFallback: %s)',
    (scanFallback) => {
      const index = new HammingIndex({ maxRadius: 8, scanFallback });
      for (const id of ['m', 'b', 'z']) index.add(id, one, undefined);
      index.add('a', three, undefined);
      index.add('y', zero, undefined);
      expect(hits(index.search(zero, 8))).toEqual([
        { id: 'y', distance: 0 },
        { id: 'b', distance: 1 },
        { id: 'm', distance: 1 },
        { id: 'z', distance: 1 },
        { id: 'a', distance: 3 },
      ]);
      expect(index.search(zero, 8, { limit: 2 }).map((m) => m.id)).toEqual(['y', 'b']);
      expect(index.search(zero, 8, { limit: 0 })).toEqual([]);
      expect(index.nearest(zero, 8)?.id).toBe('y');
      index.remove('y');
      expect(index.nearest(zero, 8)).toEqual({ id: 'b', distance: 1, value: undefined });
      expect(index.nearest(zero, 0)).toBeUndefined();
      expect(index.nearest(far, 8)).toBeUndefined();
      expect(new HammingIndex({ maxRadius: 8 }).nearest(zero, 8)).toBeUndefined();
    },
  );

  it('rejects invalid options, hashes, ids, radii and limits with errors naming the problem', () => {
    for (const bad of [-1, 1.5, 129, Number.NaN, '24' as unknown as number]) {
      expect(() => new HammingIndex({ maxRadius: bad })).toThrow(RangeError);
      expect(() => new HammingIndex({ maxRadius: bad })).toThrow(/maxRadius/);
    }
    const index = new HammingIndex({ maxRadius: 24 });
    expect(() => index.add('x', zero.slice(1), undefined)).toThrow(/64 hex digits.*got 63 characters/);
    expect(() => index.add('x', `${zero.slice(1)}g`, undefined)).toThrow(/"g" at position 63/);
    expect(() => index.add('x', 42 as unknown as string, undefined)).toThrow(TypeError);
    expect(() => index.add(7 as unknown as string, zero, undefined)).toThrow(/id must be a string/);
    expect(index.size).toBe(0); // failed adds leave nothing behind
    expect(() => index.search('xyz', 4)).toThrow(/hashHex/);

    expect(() => index.search(zero, 25)).toThrow(RangeError);
    expect(() => index.search(zero, 25)).toThrow(/radius.*maxRadius \(24\).*25/);
    expect(() => index.nearest(zero, 25)).toThrow(/maxRadius/);
    expect(() => index.search(zero, -1)).toThrow(RangeError);
    expect(() => index.search(zero, 2.5)).toThrow(RangeError);
    expect(() => index.search(zero, 4, { limit: -1 })).toThrow(/limit/);
    expect(() => index.search(zero, 4, { limit: 1.5 })).toThrow(RangeError);
  });
});
