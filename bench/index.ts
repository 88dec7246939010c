/**
 * Benchmark for the multi-index-hashing near-duplicate index
 * (src/dataset/hammingIndex.ts) against a linear scan of the same hashes.
 *
 *   npm run bench:index            # 1,000,000 hashes
 *   node dist/bench/index.js 200000  # another size
 *
 * Prints figures only; it asserts nothing.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { HammingIndex, HASH_WORDS, linearScan, packHash, unpackHash } from '../src/dataset/hammingIndex';
import { mulberry32 } from '../src/util/seededRandom';
import { percentile } from '../src/util/statistics';

const N = Number(process.argv[2] ?? 1_000_000);
if (!Number.isInteger(N) || N < 1) throw new RangeError(`size must be a positive integer, got ${process.argv[2]}`);
const SEED = 0x5eed;
const RADII = [24, 48] as const;
/** Index queries per (radius, kind); the scan is ~100× slower per query, so it gets fewer. */
const INDEX_QUERIES: Record<number, number> = { 24: 2000, 48: 500 };
const SCAN_QUERIES = 15;

/** A forced full GC so heap figures mean live data, not garbage (npm runs node without --expose-gc). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

function memoryMiB(): { heap: number; buffers: number; rss: number } {
  const m = process.memoryUsage();
  return { heap: m.heapUsed / 2 ** 20, buffers: m.arrayBuffers / 2 ** 20, rss: m.rss / 2 ** 20 };
}

function fmtMicros(ms: number): string {
  const us = ms * 1000;
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`;
}

interface Timing {
  median: number;
  p90: number;
  matches: number;
}

function time(queries: string[], run: (q: string) => number): Timing {
  const times: number[] = [];
  let matches = 0;
  for (const q of queries) {
    const t0 = performance.now();
    matches += run(q);
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  return { median: percentile(times, 50), p90: percentile(times, 90), matches };
}

function main(): void {
  const rand = mulberry32(SEED);
  console.log(`HammingIndex benchmark: ${N.toLocaleString('en-US')} random 256-bit hashes, seed ${SEED}`);

  // The stored hashes, packed; the linear-scan baseline reads this array directly.
  const words = new Uint32Array(N * HASH_WORDS);
  for (let i = 0; i < words.length; i++) words[i] = rand();

  collectGarbage();
  const before = memoryMiB();
  const t0 = performance.now();
  const index = new HammingIndex<number>({ maxRadius: 64 });
  for (let i = 0; i < N; i++) index.add(`img-${i}`, unpackHash(words, i * HASH_WORDS), i);
  // Tables are linked lazily on the first query; count that in the build.
  index.search(unpackHash(words, 0), 0);
  const buildMs = performance.now() - t0;
  collectGarbage();
  const after = memoryMiB();

  console.log(
    `build: ${(buildMs / 1000).toFixed(2)} s (${((buildMs * 1000) / N).toFixed(2)} µs/add, incl. hex encode + parse), ` +
      `${index.substringCount} substrings`,
  );
  console.log(
    `memory for the index: heap +${(after.heap - before.heap).toFixed(0)} MiB, typed arrays +${(
      after.buffers - before.buffers
    ).toFixed(0)} MiB, rss ${after.rss.toFixed(0)} MiB (rss includes the 32 MiB scan copy)`,
  );

  /** A stored hash with exactly k random bits flipped. */
  const planted = (k: number): string => {
    const i = rand() % N;
    const q = words.slice(i * HASH_WORDS, (i + 1) * HASH_WORDS);
    const flipped = new Set<number>();
    while (flipped.size < k) {
      const bit = rand() & 255;
      if (flipped.has(bit)) continue;
      flipped.add(bit);
      q[bit >>> 5]! ^= 1 << (bit & 31);
    }
    return unpackHash(q);
  };
  const random = (): string => {
    const q = new Uint32Array(HASH_WORDS);
    for (let w = 0; w < HASH_WORDS; w++) q[w] = rand();
    return unpackHash(q);
  };

  // Warm up the JIT on both paths before timing.
  for (let i = 0; i < 200; i++) index.search(random(), 24);
  linearScan(words, N, packHash(random()), 24);

  console.log('');
  console.log('r   queries              index median   p90        matches | scan median  p90        | speed-up');
  for (const r of RADII) {
    for (const kind of ['random', 'planted'] as const) {
      // planted: a stored hash moved by a uniform 0..r bits, so it is always found
      const make = kind === 'random' ? random : () => planted(rand() % (r + 1));
      const queries = Array.from({ length: INDEX_QUERIES[r]! }, make);
      const idx = time(queries, (q) => index.search(q, r).length);
      const scanQueries = queries.slice(0, SCAN_QUERIES);
      const scan = time(scanQueries, (q) => linearScan(words, N, packHash(q), r).length);
      console.log(
        `${String(r).padEnd(3)} ${kind.padEnd(8)} ×${String(queries.length).padEnd(5)} ` +
          `${fmtMicros(idx.median).padStart(14)} ${fmtMicros(idx.p90).padStart(10)} ${String(idx.matches).padStart(8)} | ` +
          `${fmtMicros(scan.median).padStart(11)} ${fmtMicros(scan.p90).padStart(10)} | ` +
          `${(scan.median / idx.median).toFixed(0)}×`,
      );
    }
  }
  const nearestQueries = Array.from({ length: 2000 }, () => planted(rand() % 25));
  const nearest = time(nearestQueries, (q) => (index.nearest(q, 24) === undefined ? 0 : 1));
  console.log(
    `\nnearest(r=24) on planted queries: median ${fmtMicros(nearest.median)}, p90 ${fmtMicros(nearest.p90)}, ` +
      `${nearest.matches}/${nearestQueries.length} found`,
  );
}

main();
