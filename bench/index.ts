/**
 * Benchmark for the multi-index-hashing near-duplicate index (src/dataset/hammingIndex.ts) against a linear
 * scan of the same hashes, at the two radii the app queries: the near-duplicate radius (24, the default of
 * DEDUP_NEAR_DUPLICATE_MAX_BITS; review's suspects query it) and the split-grouping radius (48, the default of
 * SPLIT_GROUP_MAX_BITS; ingest queries it for every image, on an index built with that maxRadius).
 *
 *   npm run bench:index                          # 1,000,000 hashes, 5 rounds
 *   npm run bench:index -- --size 200000         # another size (a bare number works too)
 *   npm run bench:index -- --rounds 7 --sweep    # more rounds; also time fixed substring counts 12..16
 *
 * The data: a uniform random background (photos unrelated to each other) plus planted clusters of edited
 * copies. CLUSTERED_SHARE of the entries sit in clusters of 2..8 hashes: an original and copies of it with a
 * few bits flipped (half of them 1..12 bits: re-encodes, resizes; half 13..56: crops, filters, overlays), so
 * copies lie within either radius of each other or just beyond. Entries are stored in shuffled order. Two
 * query kinds: "novel", a fresh uniform hash (the common case at ingest: nothing within 48 bits, so the
 * answer is empty and the index must still rule out every entry), and "copy", a fresh edit of a cluster's
 * original (the answer holds that cluster's members within the radius). Real dHash bits are also biased
 * (plain backgrounds give nearly empty hashes); that is not modelled here.
 *
 * Timings are medians over rounds (each round times every radius and kind, index and scan in turn, so load
 * on a shared machine hits both), with the speed-up as scan median / index median. Prints figures only;
 * it asserts nothing.
 */
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { HammingIndex, HASH_WORDS, linearScan, packHash, unpackHash } from '../src/dataset/hammingIndex';
import { mulberry32 } from '../src/util/seededRandom';
import { median, percentile } from '../src/util/statistics';

const { values: args, positionals } = parseArgs({
  options: {
    size: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    sweep: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const N = Number(args.size ?? positionals[0] ?? 1_000_000);
if (!Number.isInteger(N) || N < 100) throw new RangeError(`size must be an integer of at least 100, got ${N}`);
const ROUNDS = Number(args.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new RangeError(`rounds must be a positive integer`);

const SEED = 0x5eed;
const DEDUP_RADIUS = 24;
const SPLIT_RADIUS = 48;
const RADII = [DEDUP_RADIUS, SPLIT_RADIUS] as const;
const KINDS = ['novel', 'copy'] as const;
type Kind = (typeof KINDS)[number];
/** Share of the stored hashes that belong to a cluster of edited copies. */
const CLUSTERED_SHARE = 0.1;
const CLUSTER_SIZES = [2, 8] as const;
/** Index queries per (round, radius, kind); the scan is 10-1000× slower per query, so it gets fewer. */
const INDEX_QUERIES = 300;
const SCAN_QUERIES = 3;
const SWEEP_SUBSTRINGS = [12, 13, 14, 15, 16];

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

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)}`;

function fmtTime(ms: number): string {
  const us = ms * 1000;
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`;
}

const rand = mulberry32(SEED);

/** `source` (packed) with k distinct random bits flipped. */
function edited(source: Uint32Array, offset: number, k: number): Uint32Array {
  const out = source.slice(offset, offset + HASH_WORDS);
  const flipped = new Set<number>();
  while (flipped.size < k) {
    const bit = rand() & 255;
    if (flipped.has(bit)) continue;
    flipped.add(bit);
    out[bit >>> 5]! ^= 1 << (bit & 31);
  }
  return out;
}

/** Bits an edit flips: half light (1..12), half heavier (13..56). */
const editBits = (): number => (rand() & 1 ? 1 + (rand() % 12) : 13 + (rand() % 44));

function randomHash(): Uint32Array {
  const q = new Uint32Array(HASH_WORDS);
  for (let w = 0; w < HASH_WORDS; w++) q[w] = rand();
  return q;
}

interface Data {
  /** the stored hashes, packed in storage order: the linear-scan baseline reads this array directly */
  words: Uint32Array;
  /** storage position of each cluster's original */
  originals: number[];
  clustered: number;
}

function makeData(): Data {
  const words = new Uint32Array(N * HASH_WORDS);
  // Generation order: clusters first (original, then its copies), then the background; then a shuffle.
  const generated = new Uint32Array(N * HASH_WORDS);
  const originalsGenerated: number[] = [];
  let n = 0;
  const clusteredTarget = Math.floor(N * CLUSTERED_SHARE);
  while (n < clusteredTarget) {
    const size = Math.min(clusteredTarget - n, CLUSTER_SIZES[0] + (rand() % (CLUSTER_SIZES[1] - CLUSTER_SIZES[0] + 1)));
    if (size < 2) break;
    originalsGenerated.push(n);
    generated.set(randomHash(), n * HASH_WORDS);
    const original = n++;
    for (let c = 1; c < size; c++)
      generated.set(edited(generated, original * HASH_WORDS, editBits()), n++ * HASH_WORDS);
  }
  const clustered = n;
  for (; n < N; n++) generated.set(randomHash(), n * HASH_WORDS);

  const order = Array.from({ length: N }, (_, i) => i); // storage position → generated index
  for (let i = N - 1; i > 0; i--) {
    const j = rand() % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const positionOf = new Int32Array(N);
  order.forEach((g, p) => {
    words.set(generated.subarray(g * HASH_WORDS, (g + 1) * HASH_WORDS), p * HASH_WORDS);
    positionOf[g] = p;
  });
  return { words, originals: originalsGenerated.map((g) => positionOf[g]!), clustered };
}

function makeQuery(data: Data, kind: Kind): string {
  if (kind === 'novel') return unpackHash(randomHash());
  const original = data.originals[rand() % data.originals.length]!;
  return unpackHash(edited(data.words, original * HASH_WORDS, editBits()));
}

interface Series {
  /** per-round medians */
  rounds: number[];
  /** every query's time, for the p90 */
  all: number[];
  matches: number;
  queries: number;
}

const newSeries = (): Series => ({ rounds: [], all: [], matches: 0, queries: 0 });

function timeInto(series: Series, queries: string[], run: (q: string) => number): void {
  const times: number[] = [];
  for (const q of queries) {
    const t0 = performance.now();
    series.matches += run(q);
    times.push(performance.now() - t0);
  }
  series.rounds.push(median(times));
  series.all.push(...times);
  series.queries += queries.length;
}

function buildIndex(data: Data, options: { substrings?: number } = {}): { index: HammingIndex<number>; ms: number } {
  const t0 = performance.now();
  const index = new HammingIndex<number>({ maxRadius: SPLIT_RADIUS, ...options });
  for (let i = 0; i < N; i++) index.add(`img-${i}`, unpackHash(data.words, i * HASH_WORDS), i);
  index.search(unpackHash(data.words, 0), 0); // tables are linked lazily on the first query; count that in the build
  return { index, ms: performance.now() - t0 };
}

function warmUp(index: HammingIndex<number>, data: Data): void {
  for (let i = 0; i < 100; i++) for (const r of RADII) index.search(makeQuery(data, i % 2 ? 'novel' : 'copy'), r);
}

function main(): void {
  const data = makeData();
  console.log(
    `HammingIndex benchmark: ${N.toLocaleString('en-US')} 256-bit hashes (seed ${SEED}): ` +
      `${(N - data.clustered).toLocaleString('en-US')} uniform random, ${data.clustered.toLocaleString('en-US')} ` +
      `in ${data.originals.length.toLocaleString('en-US')} clusters of ${CLUSTER_SIZES.join('-')} edited copies; ` +
      `${ROUNDS} rounds`,
  );

  collectGarbage();
  const before = memoryMiB();
  const { index, ms: buildMs } = buildIndex(data);
  collectGarbage();
  const after = memoryMiB();
  const bytes = index.typedArrayBytes;
  console.log(
    `build (maxRadius ${SPLIT_RADIUS}, as ingest builds it): ${(buildMs / 1000).toFixed(2)} s ` +
      `(${((buildMs * 1000) / N).toFixed(2)} µs/add, incl. hex encode + parse), ${index.substringCount} substrings`,
  );
  console.log(
    `memory of the index: heap +${(after.heap - before.heap).toFixed(0)} MiB (ids, values, id map), typed arrays ` +
      `+${(after.buffers - before.buffers).toFixed(0)} MiB = heads ${mib(bytes.heads)} + chains ${mib(bytes.chains)} ` +
      `+ occupancy bitmaps ${mib(bytes.occupancy)} + hashes and stamps ${mib(bytes.hashes)} MiB ` +
      `(capacity rounds up to a power of two); rss ${after.rss.toFixed(0)} MiB, which includes the ` +
      `${mib(data.words.byteLength)} MiB array the scan reads`,
  );

  warmUp(index, data);
  linearScan(data.words, N, packHash(makeQuery(data, 'novel')), SPLIT_RADIUS);

  const key = (r: number, kind: Kind): string => `${r}/${kind}`;
  const idx = new Map<string, Series>();
  const scan = new Map<string, Series>();
  for (const r of RADII) {
    for (const kind of KINDS) {
      idx.set(key(r, kind), newSeries());
      scan.set(key(r, kind), newSeries());
    }
  }
  let compared = 0;
  let identical = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of RADII) {
      for (const kind of KINDS) {
        const queries = Array.from({ length: INDEX_QUERIES }, () => makeQuery(data, kind));
        timeInto(idx.get(key(r, kind))!, queries, (q) => index.search(q, r).length);
        timeInto(
          scan.get(key(r, kind))!,
          queries.slice(0, SCAN_QUERIES),
          (q) => linearScan(data.words, N, packHash(q), r).length,
        );
        // Untimed: the index's answer must be the scan's, entry for entry.
        for (const q of queries.slice(0, SCAN_QUERIES)) {
          const fromIndex = index.search(q, r).map((m) => `${m.value}:${m.distance}`);
          const fromScan = linearScan(data.words, N, packHash(q), r).map((h) => `${h.index}:${h.distance}`);
          compared++;
          if (fromIndex.sort().join() === fromScan.sort().join()) identical++;
        }
      }
    }
  }

  console.log('');
  console.log(
    `median over ${ROUNDS} rounds of each round's median; p90 over all queries; matches per query; ` +
      `speed-up = scan / index`,
  );
  console.log('r   queries  | index median   p90         matches | scan median  p90        | speed-up | under 1 ms');
  for (const r of RADII) {
    for (const kind of KINDS) {
      const i = idx.get(key(r, kind))!;
      const s = scan.get(key(r, kind))!;
      const im = median(i.rounds);
      const sm = median(s.rounds);
      console.log(
        `${String(r).padEnd(3)} ${kind.padEnd(5)} ×${String(i.queries).padEnd(5)}| ` +
          `${fmtTime(im).padStart(12)} ${fmtTime(percentile(i.all, 90)).padStart(10)} ` +
          `${(i.matches / i.queries).toFixed(2).padStart(8)} | ` +
          `${fmtTime(sm).padStart(11)} ${fmtTime(percentile(s.all, 90)).padStart(10)} | ` +
          `${(sm / im).toFixed(0).padStart(7)}× | ${im < 1 ? 'yes' : 'no'}`,
      );
    }
  }
  console.log(
    `rounds (index median, µs): ` +
      RADII.map((r) =>
        KINDS.map(
          (k) =>
            `r=${r} ${k}: ${idx
              .get(key(r, k))!
              .rounds.map((x) => (x * 1000).toFixed(0))
              .join(' ')}`,
        ).join('; '),
      ).join('; '),
  );

  console.log(`answers identical to the linear scan's: ${identical}/${compared} queries`);
  if (identical !== compared) process.exitCode = 1;

  for (const r of RADII) {
    const queries = Array.from({ length: 1000 }, () => makeQuery(data, 'copy'));
    const times: number[] = [];
    let found = 0;
    for (const q of queries) {
      const t0 = performance.now();
      if (index.nearest(q, r) !== undefined) found++;
      times.push(performance.now() - t0);
    }
    console.log(
      `nearest(r=${r}) on copy queries: median ${fmtTime(median(times))}, p90 ${fmtTime(percentile(times, 90))}, ` +
        `${found}/${queries.length} found`,
    );
  }

  if (args.sweep) sweep(data);
}

/** Fixed substring counts side by side: the layout question at this size (m ≈ 256 / log2 n by Norouzi et al.). */
function sweep(data: Data): void {
  console.log('\nsubstring counts (index built with the `substrings` option; medians over rounds, novel | copy):');
  console.log('m   widths  build    typed arrays | r=24 novel  copy      | r=48 novel  copy');
  for (const m of SWEEP_SUBSTRINGS) {
    collectGarbage();
    const { index, ms } = buildIndex(data, { substrings: m });
    warmUp(index, data);
    const cells: string[] = [];
    for (const r of RADII) {
      const perKind = KINDS.map((kind) => {
        const series = newSeries();
        for (let round = 0; round < ROUNDS; round++) {
          const queries = Array.from({ length: INDEX_QUERIES }, () => makeQuery(data, kind));
          timeInto(series, queries, (q) => index.search(q, r).length);
        }
        return fmtTime(median(series.rounds)).padStart(10);
      });
      cells.push(perKind.join(' '));
    }
    const b = index.typedArrayBytes;
    const widths = [Math.floor(256 / m), Math.ceil(256 / m)].filter((w, i, a) => a.indexOf(w) === i).join('/');
    console.log(
      `${String(m).padEnd(3)} ${widths.padEnd(7)} ${(ms / 1000).toFixed(2).padStart(5)} s ` +
        `${mib(b.heads + b.chains + b.occupancy + b.hashes).padStart(8)} MiB | ${cells.join(' | ')}`,
    );
  }
}

main();
