// Random 256-bit hashes, edited copies of them and the linear-scan oracle, for the near-duplicate index's tests.
import { HASH_WORDS, linearScan, packHash, unpackHash } from '../../src/dataset/hammingIndex';

export interface Hit {
  id: string;
  distance: number;
}

export function randomHex(rand: () => number): string {
  const w = new Uint32Array(HASH_WORDS);
  for (let i = 0; i < HASH_WORDS; i++) w[i] = rand();
  return unpackHash(w);
}

/** `hex` with exactly k distinct bits flipped. */
export function flipBits(hex: string, k: number, rand: () => number): string {
  const w = packHash(hex);
  const flipped = new Set<number>();
  while (flipped.size < k) {
    const bit = rand() & 255;
    if (flipped.has(bit)) continue;
    flipped.add(bit);
    w[bit >>> 5]! ^= 1 << (bit & 31);
  }
  return unpackHash(w);
}

/** The oracle: linearScan over its own packed copy of the entries (id → hex), ordered like search(). */
export function oracleSearch(entries: Map<string, string>, query: string, radius: number): Hit[] {
  const ids = [...entries.keys()];
  const words = new Uint32Array(ids.length * HASH_WORDS);
  ids.forEach((id, i) => packHash(entries.get(id)!, words, i * HASH_WORDS));
  return linearScan(words, ids.length, packHash(query), radius)
    .map((h) => ({ id: ids[h.index]!, distance: h.distance }))
    .sort((x, y) => x.distance - y.distance || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}
