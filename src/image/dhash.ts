/**
 * Difference hash, bit-compatible with Python's `str(imagehash.dhash(Image.open(f), hash_size))`
 * (imagehash 4.3.2 on Pillow 9.4): greyscale "L", Lanczos resize to (hashSize+1) x hashSize,
 * bit = right neighbour brighter than left, row-major, packed most significant bit first.
 */
import { decodeLikePillow, type DecodeOptions, type RawPixels } from './decode';
import { pillowGreyResize } from './pillow';

export const DHASH_SIZE = 16;

function checkHashSize(hashSize: number): void {
  if (!Number.isInteger(hashSize) || hashSize < 2) {
    // imagehash asserts hash_size >= 2
    throw new RangeError(`hashSize must be an integer >= 2, got ${hashSize}`);
  }
}

const HEX = '0123456789abcdef';

/** dHash of decoded pixels: hashSize² bits as ceil(hashSize²/4) lowercase hex digits (64 for 16). */
export function dhashFromPixels(pixels: RawPixels, hashSize: number = DHASH_SIZE): string {
  checkHashSize(hashSize);
  const w = hashSize + 1;
  const small = pillowGreyResize(pixels, w, hashSize);
  const nbits = hashSize * hashSize;
  // imagehash formats int(bitstring, 2) zero-padded to ceil(n/4) digits: the first bit is
  // the most significant, so when n is not a multiple of 4 the padding sits at the front.
  const digits = Math.ceil(nbits / 4);
  let out = '';
  let nibble = 0;
  let filled = digits * 4 - nbits; // leading zero bits of the first digit
  for (let row = 0; row < hashSize; row++) {
    const base = row * w;
    for (let col = 0; col < hashSize; col++) {
      nibble = (nibble << 1) | (small[base + col + 1]! > small[base + col]! ? 1 : 0);
      if (++filled === 4) {
        out += HEX[nibble]!;
        nibble = 0;
        filled = 0;
      }
    }
  }
  return out;
}

/** Decode as Pillow would, then hash: same string as imagehash's for the same file. */
export async function dhashOfImage(input: Buffer, options: DecodeOptions): Promise<string> {
  return dhashFromPixels(await decodeLikePillow(input, options), DHASH_SIZE);
}

/** Population count of a 32-bit word (SWAR: sum bit pairs, nibbles, bytes): every Hamming distance here uses it. */
export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Hex digits `start`..`start + count` (at most 8) of `hash` as one word; `which` names the hash in errors. */
function hexWord(hash: string, start: number, count: number, which: string): number {
  let word = 0;
  for (let i = start; i < start + count; i++) {
    const c = hash.charCodeAt(i);
    const lower = c | 0x20; // accept upper case too
    const digit = c >= 48 && c <= 57 ? c - 48 : lower >= 97 && lower <= 102 ? lower - 87 : -1;
    if (digit < 0) {
      throw new RangeError(`hammingDistance: ${which} hash has non-hex character ${JSON.stringify(hash[i])} at ${i}`);
    }
    word = (word << 4) | digit;
  }
  return word;
}

/** Number of differing bits between two hex hashes of equal length. */
export function hammingDistance(a: string, b: string): number {
  if (a.length !== b.length) {
    throw new RangeError(`hammingDistance: hashes differ in length (${a.length} vs ${b.length} hex digits)`);
  }
  let d = 0;
  for (let i = 0; i < a.length; i += 8) {
    const count = Math.min(8, a.length - i);
    d += popcount32(hexWord(a, i, count, 'first') ^ hexWord(b, i, count, 'second'));
  }
  return d;
}

/** Number of set bits in a hex hash. */
export function setBits(hash: string): number {
  let bits = 0;
  for (let i = 0; i < hash.length; i += 8) bits += popcount32(hexWord(hash, i, Math.min(8, hash.length - i), 'the'));
  return bits;
}

/**
 * Distance relative to what the two hashes hold: 0 for equal hashes, about 1 for unrelated ones. Two
 * all-zero hashes (perfectly flat images) count as equal.
 */
export function relativeDistance(distance: number, hashA: string, hashB: string): number {
  const held = setBits(hashA) + setBits(hashB);
  return held === 0 ? 0 : distance / held;
}
