/**
 * Near-duplicate index over 256-bit perceptual hashes (dHash, 64 hex digits),
 * answering "every stored hash within Hamming distance r of this one" by
 * multi-index hashing (Norouzi, Punjani & Fleet, "Fast Search in Hamming Space
 * with Multi-Index Hashing", CVPR 2012).
 *
 * The 256 bits are cut into m disjoint substrings, each indexing its own
 * direct-addressed table. If two hashes differ in at most r bits, write
 * r = s·m + a (0 ≤ a < m); then one of the first a+1 substrings differs in at
 * most s bits, or one of the others differs in at most s−1 bits (otherwise the
 * total would be ≥ (a+1)(s+1) + (m−a−1)s = r+1). So a query probes, per
 * substring, every bucket within that small radius, and verifies each
 * candidate once with an exact popcount over all 256 bits.
 *
 * Memory layout (why no object per entry): hashes live packed in one
 * Uint32Array (8 words per slot); each substring table is an Int32Array of
 * bucket heads plus an Int32Array "next slot" chain. At 1M entries that is
 * ~210 MiB of typed arrays plus ~80 MiB of heap for the ids, values and the
 * id → slot Map (bench/index.ts measures it).
 *
 * Substring count m follows the size (see MIN_SUBSTRINGS), not maxRadius:
 * measurement showed the best width depends on n, and any m is correct for
 * any radius. maxRadius bounds the queries; when a radius is so large that
 * probing would cost more than reading every hash, the query scans instead.
 */
import { popcount32 } from '../image/dhash';

export interface HammingMatch<T> {
  id: string;
  distance: number;
  value: T;
}

export interface HammingIndexOptions {
  /** Largest radius any query may use; integer 0..128. */
  maxRadius: number;
  /**
   * When a query's radius makes probing the tables costlier than reading every
   * hash (large radii, small indexes), scan instead. Default true; false forces
   * the tables, for tests and benchmarks.
   */
  scanFallback?: boolean;
  /**
   * Fixes the substring count (integer 12..64) instead of letting it follow the size; for benchmarks and
   * tests that compare layouts. Every count is exact for every radius.
   */
  substrings?: number;
}

export interface SearchOptions {
  /** Keep only the first `limit` matches (after ordering); integer ≥ 0. */
  limit?: number;
}

/** One hit of {@link linearScan}: position in the packed array and its distance. */
export interface ScanHit {
  index: number;
  distance: number;
}

/** Bits per hash, 32-bit words per hash. */
export const HASH_BITS = 256;
export const HASH_WORDS = 8;
/** The words a query gathers per candidate before it reads the rest (see `collect`). */
const HALF_WORDS = 4;
const HEX_DIGITS = 64;

/** Largest accepted `maxRadius`: beyond half the bits "near" stops meaning anything. */
const MAX_RADIUS_LIMIT = 128;

/**
 * Substring count as the index grows. Norouzi et al. suggest width ≈ log2(n)
 * (about one entry per bucket). Measured here (1M and 100k random hashes,
 * r = 24 and 48) a chain step costs several cache misses while probing an
 * empty bucket costs about one, so sparser tables win: width ≈ log2(n) + 2,
 * i.e. m = round(256 / (log2 n + 2)). Tables are direct-addressed (2^width
 * Int32 heads each), so m ≥ 12 caps widths at 22 bits (≤ 16 MiB per table,
 * ~130 MiB in all); below ~1.4k entries m stays at 21.
 */
const MIN_SUBSTRINGS = 12;
/** Largest count the `substrings` option takes: 4-bit substrings. */
const MAX_SUBSTRINGS = 64;
const SIZE_FLOOR = 1024;
const WIDTH_OVER_LOG2N = 2;

/**
 * Relative costs used to decide, per query, whether probing the tables is
 * cheaper than a sequential scan, in units of one scanned entry (6-18 ns,
 * streaming, on the machines measured). Fitted on Node 20 / x86-64 at 1M
 * entries: a probe (a bit of a cache-resident occupancy bitmap) ≈ 0.5 entries,
 * a candidate (head or link read, hash read, distance: 110-200 ns, bound by
 * memory latency, so it costs the same where streaming is 3× faster) ≈ 15.
 * That puts the crossover near r = 63 (measured on a machine where a scan
 * entry costs 17 ns: the tables win up to r ≈ 66, 6.6 ms against 15 at r = 60).
 */
const COST_SCAN_ENTRY = 1;
const COST_PROBE = 0.5;
const COST_CANDIDATE = 15;

/**
 * Links are stored as slot + 1 so that 0 means "none": freshly allocated
 * (zeroed, lazily committed) tables need no fill pass.
 */
const NONE = 0;

// ---------------------------------------------------------------------------
// Bit helpers

/** Hex digit value by char code, -1 for anything else (faster than a regex + parseInt per word). */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[97 + i] = 10 + i; // a-f
  HEX_VALUE[65 + i] = 10 + i; // A-F: accepted, though hashes are written lowercase
}

/**
 * Validates and packs a 64-hex-digit hash into 8 words (word 0 = first 8
 * digits, big-endian within the word, so hex order and bit order agree).
 * `what` names the argument in the error message.
 */
export function packHash(
  hashHex: string,
  out: Uint32Array = new Uint32Array(HASH_WORDS),
  offset = 0,
  what = 'hashHex',
): Uint32Array {
  if (typeof hashHex !== 'string') {
    throw new TypeError(`${what} must be a string of ${HEX_DIGITS} hex digits, got ${typeof hashHex}`);
  }
  if (hashHex.length !== HEX_DIGITS) {
    throw new TypeError(`${what} must be ${HEX_DIGITS} hex digits (256 bits), got ${hashHex.length} characters`);
  }
  for (let w = 0; w < HASH_WORDS; w++) {
    let v = 0;
    for (let k = w * 8; k < w * 8 + 8; k++) {
      const c = hashHex.charCodeAt(k);
      const digit = c < 128 ? HEX_VALUE[c]! : -1;
      if (digit < 0) {
        throw new TypeError(
          `${what} must be ${HEX_DIGITS} hex digits, found ${JSON.stringify(hashHex[k])} at position ${k}`,
        );
      }
      v = (v << 4) | digit;
    }
    out[offset + w] = v;
  }
  return out;
}

// Node's native hex encoder is ~4× faster than building the string in JS.
const hexBytes = Buffer.alloc(HASH_WORDS * 4);
const hexView = new DataView(hexBytes.buffer, hexBytes.byteOffset, hexBytes.length);

/** Inverse of {@link packHash}: 64 lowercase hex digits. */
export function unpackHash(words: Uint32Array, offset = 0): string {
  for (let w = 0; w < HASH_WORDS; w++) hexView.setUint32(w * 4, words[offset + w]!, false);
  return hexBytes.toString('hex');
}

/** Exact Hamming distance between two packed hashes. */
export function packedDistance(a: Uint32Array, aOffset: number, b: Uint32Array, bOffset: number): number {
  let d = 0;
  for (let w = 0; w < HASH_WORDS; w++) d += popcount32(a[aOffset + w]! ^ b[bOffset + w]!);
  return d;
}

/**
 * Baseline and test oracle: checks every one of the first `count` hashes in
 * `words` (packed 8 words each, as {@link packHash} writes them) against
 * `query` and returns those within `radius`, in index order. It gives up on an
 * entry as soon as its partial distance exceeds the radius, which is the fair
 * version of a scan to compare the index with.
 */
/**
 * Exact distance between the stored hash at `offset` and `query`, or a value above `radius` as soon as the
 * first half shows it cannot be within: most random entries are rejected after four words.
 */
function distanceWithin(words: Uint32Array, offset: number, query: Uint32Array, radius: number): number {
  const d =
    popcount32(words[offset]! ^ query[0]!) +
    popcount32(words[offset + 1]! ^ query[1]!) +
    popcount32(words[offset + 2]! ^ query[2]!) +
    popcount32(words[offset + 3]! ^ query[3]!);
  if (d > radius) return d;
  return (
    d +
    popcount32(words[offset + 4]! ^ query[4]!) +
    popcount32(words[offset + 5]! ^ query[5]!) +
    popcount32(words[offset + 6]! ^ query[6]!) +
    popcount32(words[offset + 7]! ^ query[7]!)
  );
}

export function linearScan(words: Uint32Array, count: number, query: Uint32Array, radius: number): ScanHit[] {
  if (count * HASH_WORDS > words.length) {
    throw new RangeError(`count ${count} exceeds the ${words.length / HASH_WORDS} hashes in words`);
  }
  const hits: ScanHit[] = [];
  for (let i = 0, o = 0; i < count; i++, o += HASH_WORDS) {
    const d = distanceWithin(words, o, query, radius);
    if (d <= radius) hits.push({ index: i, distance: d });
  }
  return hits;
}

// ---------------------------------------------------------------------------
// Probe masks: all `width`-bit words with popcount ≤ r, ordered by popcount,
// shared by every index (they depend only on the width).

interface MaskTable {
  masks: Uint32Array;
  /** upTo[k] = number of masks with popcount ≤ k (valid for k ≤ built). */
  upTo: number[];
  built: number;
}

const maskTables = new Map<number, MaskTable>();

function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return Math.round(c);
}

/** Number of masks of popcount ≤ r in `width` bits, without building them. */
function ballSize(width: number, r: number): number {
  let total = 0;
  for (let k = 0; k <= Math.min(r, width); k++) total += binomial(width, k);
  return total;
}

function masksWithin(width: number, r: number): { masks: Uint32Array; count: number } {
  r = Math.min(r, width);
  let table = maskTables.get(width);
  if (table === undefined) {
    table = { masks: new Uint32Array([0]), upTo: [1], built: 0 };
    maskTables.set(width, table);
  }
  if (table.built < r) {
    const list: number[] = Array.from(table.masks);
    for (let k = table.built + 1; k <= r; k++) {
      // Gosper's hack walks the k-subsets of `width` bits in increasing order.
      let v = (2 ** k - 1) >>> 0;
      const limit = 2 ** width;
      while (v < limit) {
        list.push(v);
        const t = (v | (v - 1)) + 1;
        v = t + ((((t & -t) / (v & -v)) >>> 1) - 1);
        if (v <= 0) break;
      }
      table.upTo[k] = list.length;
    }
    table.masks = Uint32Array.from(list);
    table.built = r;
  }
  return { masks: table.masks, count: table.upTo[r]! };
}

// ---------------------------------------------------------------------------

interface Substring {
  /** first bit (0 = most significant bit of word 0) */
  start: number;
  width: number;
  word: number;
  /** bit offset of the substring's last bit from the least significant end of `word` */
  shift: number;
  /** whether it continues into word+1 */
  spans: boolean;
  mask: number;
}

/**
 * m contiguous substrings of as-equal-as-possible widths. Bits are numbered
 * from the most significant bit of word 0, matching hex digit order.
 */
function layoutSubstrings(m: number): Substring[] {
  const subs: Substring[] = [];
  let start = 0;
  for (let j = 0; j < m; j++) {
    const width = Math.floor(HASH_BITS / m) + (j < HASH_BITS % m ? 1 : 0);
    const word = start >>> 5;
    const endInWord = (start & 31) + width; // bits used from `word` onwards
    subs.push({
      start,
      width,
      word,
      shift: 32 - endInWord, // negative when the substring spills into the next word
      spans: endInWord > 32,
      mask: width === 32 ? 0xffffffff : (1 << width) - 1,
    });
    start += width;
  }
  return subs;
}

function extract(words: Uint32Array, offset: number, s: Substring): number {
  const w = words[offset + s.word]!;
  if (!s.spans) return (w >>> s.shift) & s.mask;
  // high part from `word`, the remaining -shift low bits from the next word
  const spill = -s.shift;
  return ((w << spill) | (words[offset + s.word + 1]! >>> (32 - spill))) & s.mask;
}

/** The smallest power of two ≥ n (and ≥ 4096): sizes for the reused query buffers. */
function bufferSize(n: number): number {
  return 2 ** Math.max(12, Math.ceil(Math.log2(n)));
}

/** Substring count for an index holding about `n` entries (see MIN_SUBSTRINGS). */
function substringCountFor(n: number): number {
  const width = Math.log2(Math.max(n, SIZE_FLOOR)) + WIDTH_OVER_LOG2N;
  return Math.max(MIN_SUBSTRINGS, Math.round(HASH_BITS / width));
}

/** The smallest size at which substringCountFor drops below m (Infinity at the floor). */
function sizeToShrink(m: number): number {
  if (m <= MIN_SUBSTRINGS) return Infinity;
  // round(256 / width) < m  ⇔  width > 256 / (m − ½)
  let n = Math.ceil(2 ** (HASH_BITS / (m - 0.5) - WIDTH_OVER_LOG2N));
  while (substringCountFor(n) >= m) n++; // guard against floating-point edge cases
  return n;
}

export class HammingIndex<T = undefined> {
  readonly maxRadius: number;
  private readonly scanFallback: boolean;
  private readonly fixedSubstrings: number | undefined;

  private m = 0;
  private subs: Substring[] = [];
  private heads: Int32Array[] = [];
  private nexts: Int32Array[] = [];
  /** per table: one bit per bucket, set while the bucket is non-empty (see `collect`) */
  private occupied: Int32Array[] = [];
  /** per table: one bit per bucket, set while it holds two entries or more, whose chain a query must walk */
  private shared: Int32Array[] = [];
  /** live count at which the tables are rebuilt with fewer, wider substrings */
  private growAt = 0;

  private capacity = 0;
  private words = new Uint32Array(0);
  /** per slot: the query epoch that last verified it, so each slot is verified once per query */
  private seen = new Uint32Array(0);
  private epoch = 0;
  private ids: (string | undefined)[] = [];
  private values: (T | undefined)[] = [];
  private slotOf = new Map<string, number>();
  private freeSlots: number[] = [];
  private used = 0; // slots ever handed out (live + free)
  /**
   * Slots added but not yet in the tables. Linking is deferred to the next
   * query or removal and done one table at a time, which keeps a bulk load
   * about twice as fast as interleaving 12+ random writes per add.
   */
  private pending: number[] = [];
  private readonly scratch = new Uint32Array(HASH_WORDS);
  /** reused candidate buffer for queries */
  private candidates = new Int32Array(4096);
  /** reused per-table buffers for queries: occupied keys, then chain links */
  private keyBuffer = new Int32Array(4096);
  private linkBuffer = new Int32Array(4096);
  /** per candidate of a query, the first half of its hash, gathered into one sequential buffer */
  private gathered = new Uint32Array(4 * 4096);

  constructor(options: HammingIndexOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('HammingIndex options must be an object with maxRadius');
    }
    const { maxRadius } = options;
    if (!Number.isInteger(maxRadius) || maxRadius < 0 || maxRadius > MAX_RADIUS_LIMIT) {
      throw new RangeError(`maxRadius must be an integer from 0 to ${MAX_RADIUS_LIMIT}, got ${String(maxRadius)}`);
    }
    this.maxRadius = maxRadius;
    this.scanFallback = options.scanFallback ?? true;
    const { substrings } = options;
    if (
      substrings !== undefined &&
      (!Number.isInteger(substrings) || substrings < MIN_SUBSTRINGS || substrings > MAX_SUBSTRINGS)
    ) {
      throw new RangeError(
        `substrings must be an integer from ${MIN_SUBSTRINGS} to ${MAX_SUBSTRINGS}, got ${String(substrings)}`,
      );
    }
    this.fixedSubstrings = substrings;
    this.grow(1024);
    this.rebuildTables(substrings ?? substringCountFor(0));
  }

  get size(): number {
    return this.slotOf.size;
  }

  /** Number of substrings (tables) currently in use; for diagnostics and benchmarks. */
  get substringCount(): number {
    return this.m;
  }

  /**
   * Bytes of typed arrays by role, for diagnostics and benchmarks: bucket heads, chain links and occupancy
   * bitmaps (all tables), and the packed hashes with their per-slot query stamps. The ids, values and the
   * id → slot map are on the JS heap besides.
   */
  get typedArrayBytes(): { heads: number; chains: number; occupancy: number; hashes: number } {
    const total = (arrays: Int32Array[]): number => arrays.reduce((sum, a) => sum + a.byteLength, 0);
    return {
      heads: total(this.heads),
      chains: total(this.nexts),
      occupancy: total(this.occupied) + total(this.shared),
      hashes: this.words.byteLength + this.seen.byteLength,
    };
  }

  has(id: string): boolean {
    return this.slotOf.has(id);
  }

  add(id: string, hashHex: string, value: T): void {
    if (typeof id !== 'string') throw new TypeError(`id must be a string, got ${typeof id}`);
    packHash(hashHex, this.scratch); // validate before touching anything
    let slot = this.slotOf.get(id);
    if (slot !== undefined) {
      // Replacing: the hash may differ, so take the slot out of its buckets first.
      this.flush();
      this.unlink(slot);
    } else {
      slot = this.freeSlots.pop();
      if (slot === undefined) {
        if (this.used === this.capacity) this.grow(this.capacity * 2);
        slot = this.used++;
      }
      this.ids[slot] = id;
      this.slotOf.set(id, slot);
    }
    this.words.set(this.scratch, slot * HASH_WORDS);
    this.values[slot] = value;
    this.pending.push(slot);
    if (this.slotOf.size >= this.growAt) this.rebuildTables(substringCountFor(this.slotOf.size));
  }

  remove(id: string): boolean {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return false;
    this.flush();
    this.unlink(slot);
    this.slotOf.delete(id);
    this.ids[slot] = undefined;
    this.values[slot] = undefined; // let the value be collected
    this.freeSlots.push(slot);
    return true;
  }

  search(hashHex: string, radius: number, options: SearchOptions = {}): HammingMatch<T>[] {
    const limit = options.limit ?? Infinity;
    if (limit !== Infinity && (!Number.isInteger(limit) || limit < 0)) {
      throw new RangeError(`limit must be a non-negative integer, got ${String(limit)}`);
    }
    const { slots, distances } = this.collect(hashHex, radius);
    const matches: HammingMatch<T>[] = [];
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      matches.push({ id: this.ids[slot]!, distance: distances[i]!, value: this.values[slot] as T });
    }
    matches.sort(compareMatches);
    if (matches.length > limit) matches.length = limit;
    return matches;
  }

  nearest(hashHex: string, radius: number): HammingMatch<T> | undefined {
    const { slots, distances } = this.collect(hashHex, radius);
    let best = -1;
    for (let i = 0; i < slots.length; i++) {
      if (
        best < 0 ||
        distances[i]! < distances[best]! ||
        (distances[i] === distances[best] && this.ids[slots[i]!]! < this.ids[slots[best]!]!)
      ) {
        best = i;
      }
    }
    if (best < 0) return undefined;
    const slot = slots[best]!;
    return { id: this.ids[slot]!, distance: distances[best]!, value: this.values[slot] as T };
  }

  // -------------------------------------------------------------------------

  private checkRadius(radius: number): void {
    if (!Number.isInteger(radius) || radius < 0 || radius > this.maxRadius) {
      throw new RangeError(`radius must be an integer from 0 to maxRadius (${this.maxRadius}), got ${String(radius)}`);
    }
  }

  /** Slots within `radius` of the query, each once, unordered. */
  private collect(hashHex: string, radius: number): { slots: number[]; distances: number[] } {
    this.checkRadius(radius);
    const q = packHash(hashHex);
    const slots: number[] = [];
    const distances: number[] = [];
    const live = this.slotOf.size;
    if (live === 0) return { slots, distances };
    this.flush();

    // Per-substring radii from r = s·m + a (see the header comment).
    const m = this.m;
    const s = Math.floor(radius / m);
    const a = radius - s * m;
    let probes = 0;
    let candidates = 0;
    for (let j = 0; j < m; j++) {
      const rj = j <= a ? s : s - 1;
      if (rj < 0) continue;
      const width = this.subs[j]!.width;
      const ball = ballSize(width, rj);
      probes += ball;
      candidates += (ball * live) / 2 ** width;
    }
    // Large radii make the balls cover much of each table: a sequential scan is then cheaper.
    if (this.scanFallback && probes * COST_PROBE + candidates * COST_CANDIDATE >= this.used * COST_SCAN_ENTRY) {
      for (const hit of linearScan(this.words, this.used, q, radius)) {
        if (this.ids[hit.index] !== undefined) {
          slots.push(hit.index);
          distances.push(hit.distance);
        }
      }
      return { slots, distances };
    }

    // At 1M entries the tables and hashes dwarf the caches, and a loop whose next load waits on the last
    // one (a chain walk, or a branch on a loaded value) pays a full miss, ~100 ns, per step. So each step
    // is its own loop of independent loads writing branch-free into reused buffers, and the misses
    // overlap. Per table: (1) the probed keys whose bucket is occupied, from the table's occupancy bitmap
    // (2^width bits, 512 KiB at width 22: it stays in cache, and most buckets are empty); (2) those
    // buckets' heads, each a candidate; (3) the chains of the few buckets that hold more than one entry (a
    // second bitmap marks them, so single entries cost no link read), one link level at a time across all
    // of them. Then, over all tables: (4) a gather of each candidate's first 128 bits into one sequential
    // buffer; (5) the distance over those, which rejects nearly every candidate that is not a match (a
    // random one differs in ~64 of them), and the exact distance for the rest. A slot found through
    // several substrings is checked again but reported once.
    let cand = this.candidates;
    let nc = 0;
    for (let j = 0; j < m; j++) {
      const rj = j <= a ? s : s - 1;
      if (rj < 0) continue;
      const sub = this.subs[j]!;
      const key = extract(q, 0, sub);
      const { masks, count } = masksWithin(sub.width, rj);
      const occupied = this.occupied[j]!;
      const head = this.heads[j]!;
      const next = this.nexts[j]!;

      const keys =
        count <= this.keyBuffer.length ? this.keyBuffer : (this.keyBuffer = new Int32Array(bufferSize(count)));
      let nk = 0;
      for (let p = 0; p < count; p++) {
        const k = key ^ masks[p]!;
        keys[nk] = k;
        nk += (occupied[k >>> 5]! >>> (k & 31)) & 1;
      }

      // Occupied means a head; only buckets marked shared have a chain to walk.
      const shared = this.shared[j]!;
      if (nc + nk > cand.length) cand = this.growCandidates(nc + nk, nc);
      const links = nk <= this.linkBuffer.length ? this.linkBuffer : (this.linkBuffer = new Int32Array(bufferSize(nk)));
      let nl = 0;
      for (let i = 0; i < nk; i++) {
        const k = keys[i]!;
        const link = head[k]!;
        cand[nc++] = link - 1;
        links[nl] = link;
        nl += (shared[k >>> 5]! >>> (k & 31)) & 1;
      }

      while (nl > 0) {
        if (nc + nl > cand.length) cand = this.growCandidates(nc + nl, nc);
        let kept = 0; // compacts the next level of links in place
        for (let i = 0; i < nl; i++) {
          const link = next[links[i]! - 1]!;
          const more = link === NONE ? 0 : 1;
          cand[nc] = link - 1;
          nc += more;
          links[kept] = link;
          kept += more;
        }
        nl = kept;
      }
    }

    const words = this.words;
    if (this.gathered.length < nc * HALF_WORDS) this.gathered = new Uint32Array(bufferSize(nc * HALF_WORDS));
    const gathered = this.gathered;
    for (let i = 0, g = 0; i < nc; i++, g += HALF_WORDS) {
      const o = cand[i]! * HASH_WORDS;
      gathered[g] = words[o]!;
      gathered[g + 1] = words[o + 1]!;
      gathered[g + 2] = words[o + 2]!;
      gathered[g + 3] = words[o + 3]!;
    }

    const q0 = q[0]!;
    const q1 = q[1]!;
    const q2 = q[2]!;
    const q3 = q[3]!;
    const epoch = this.nextEpoch();
    const seen = this.seen;
    for (let i = 0, g = 0; i < nc; i++, g += HALF_WORDS) {
      const half =
        popcount32(gathered[g]! ^ q0) +
        popcount32(gathered[g + 1]! ^ q1) +
        popcount32(gathered[g + 2]! ^ q2) +
        popcount32(gathered[g + 3]! ^ q3);
      if (half > radius) continue; // nearly every random candidate ends here
      const slot = cand[i]!;
      const d = distanceWithin(words, slot * HASH_WORDS, q, radius);
      if (d <= radius && seen[slot] !== epoch) {
        seen[slot] = epoch; // found through another substring already
        slots.push(slot);
        distances.push(d);
      }
    }
    return { slots, distances };
  }

  /** Replaces the candidate buffer with one of at least `size` entries, keeping the first `used`. */
  private growCandidates(size: number, used: number): Int32Array<ArrayBuffer> {
    const bigger = new Int32Array(bufferSize(size));
    bigger.set(this.candidates.subarray(0, used));
    this.candidates = bigger;
    return bigger;
  }

  private nextEpoch(): number {
    if (this.epoch === 0xffffffff) {
      // wrapped: stale stamps could collide with new epochs, so clear them
      this.seen.fill(0);
      this.epoch = 0;
    }
    return ++this.epoch;
  }

  /** Links the pending slots, one table at a time (see `pending`). */
  private flush(): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    const words = this.words;
    for (let j = 0; j < this.m; j++) {
      const sub = this.subs[j]!;
      const head = this.heads[j]!;
      const next = this.nexts[j]!;
      const occupied = this.occupied[j]!;
      const shared = this.shared[j]!;
      for (let i = 0; i < pending.length; i++) {
        const slot = pending[i]!;
        const key = extract(words, slot * HASH_WORDS, sub);
        const bit = 1 << (key & 31);
        if (head[key] !== NONE) shared[key >>> 5]! |= bit;
        next[slot] = head[key]!;
        head[key] = slot + 1;
        occupied[key >>> 5]! |= bit;
      }
    }
    this.pending = [];
  }

  /** Singly linked chains: walk the bucket (under one entry on average by design). */
  private unlink(slot: number): void {
    const o = slot * HASH_WORDS;
    for (let j = 0; j < this.m; j++) {
      const key = extract(this.words, o, this.subs[j]!);
      const head = this.heads[j]!;
      const next = this.nexts[j]!;
      const link = slot + 1;
      if (head[key] === link) {
        head[key] = next[slot]!;
      } else {
        let prev = head[key]!;
        while (prev !== NONE && next[prev - 1] !== link) prev = next[prev - 1]!;
        if (prev !== NONE) next[prev - 1] = next[slot]!;
      }
      next[slot] = NONE;
      const first = head[key]!;
      const clear = ~(1 << (key & 31));
      if (first === NONE) this.occupied[j]![key >>> 5]! &= clear;
      if (first === NONE || next[first - 1] === NONE) this.shared[j]![key >>> 5]! &= clear;
    }
  }

  private grow(capacity: number): void {
    const words = new Uint32Array(capacity * HASH_WORDS);
    words.set(this.words);
    this.words = words;
    const seen = new Uint32Array(capacity);
    seen.set(this.seen);
    this.seen = seen;
    this.nexts = this.nexts.map((old) => {
      const next = new Int32Array(capacity);
      next.set(old);
      return next;
    });
    this.capacity = capacity;
  }

  /**
   * Rebuilds the tables with m substrings. Called as the index grows so the
   * substring width tracks log2(size); the sizes that trigger it grow
   * geometrically, so total rebuild work stays linear in the number of adds.
   */
  private rebuildTables(m: number): void {
    if (m !== this.m) {
      this.m = m;
      this.subs = layoutSubstrings(m);
      this.heads = this.subs.map((sub) => new Int32Array(2 ** sub.width));
      this.occupied = this.subs.map((sub) => new Int32Array(Math.ceil(2 ** sub.width / 32)));
      this.shared = this.subs.map((sub) => new Int32Array(Math.ceil(2 ** sub.width / 32)));
      this.nexts = this.subs.map(() => new Int32Array(this.capacity));
      const pending: number[] = [];
      for (let slot = 0; slot < this.used; slot++) {
        if (this.ids[slot] !== undefined) pending.push(slot);
      }
      this.pending = pending;
    }
    this.growAt = this.fixedSubstrings === undefined ? sizeToShrink(m) : Infinity;
  }
}

function compareMatches<T>(x: HammingMatch<T>, y: HammingMatch<T>): number {
  if (x.distance !== y.distance) return x.distance - y.distance;
  return x.id < y.id ? -1 : x.id > y.id ? 1 : 0;
}
