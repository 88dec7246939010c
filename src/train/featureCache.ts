// Where backbone features are kept between runs, keyed by backbone, view recipe and image content: a folder on
// disk (icf eval, a developer's machine) or a blob container (the trainer, whose container job starts with an
// empty disk each time), so that retraining after a few new images only pays the backbone for those.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import type { ContainerClient } from '@azure/storage-blob';

import { isStatus } from '../storage/tables';

/** Reads and writes feature vectors by key (a relative path such as `backbone/v2/ab/<digest>-plain.f32`). */
export interface FeatureCache {
  /** Each key's vector of `length` floats; undefined where it is missing or not of that length (never trusted). */
  read(keys: readonly string[], length: number): Promise<(Float32Array | undefined)[]>;
  write(key: string, vector: Float32Array): Promise<void>;
}

/** How many cache reads or writes are in flight at once (blob round trips dominate; files do not mind). */
const PARALLEL = 16;

export class DiskFeatureCache implements FeatureCache {
  constructor(private readonly dir: string) {}

  read(keys: readonly string[], length: number): Promise<(Float32Array | undefined)[]> {
    return mapParallel(keys, async (key) => {
      try {
        return toVector(await fs.readFile(path.join(this.dir, key)), length);
      } catch {
        return undefined;
      }
    });
  }

  async write(key: string, vector: Float32Array): Promise<void> {
    const file = path.join(this.dir, key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, bytesOf(vector));
    await fs.rename(tmp, file); // atomic: a concurrent reader sees all or nothing
  }
}

export class BlobFeatureCache implements FeatureCache {
  #ready: Promise<unknown> | undefined;

  constructor(private readonly container: ContainerClient) {}

  read(keys: readonly string[], length: number): Promise<(Float32Array | undefined)[]> {
    return mapParallel(keys, async (key) => {
      try {
        return toVector(await this.container.getBlockBlobClient(key).downloadToBuffer(), length);
      } catch (error) {
        // Missing (or the container not made yet): compute it. Anything else is a real storage problem.
        if (isStatus(error, 404)) return undefined;
        throw error;
      }
    });
  }

  async write(key: string, vector: Float32Array): Promise<void> {
    this.#ready ??= this.container.createIfNotExists();
    await this.#ready;
    // A blob upload replaces the whole blob at once: a concurrent reader sees the old or the new vector.
    await this.container.getBlockBlobClient(key).uploadData(bytesOf(vector));
  }
}

function toVector(bytes: Buffer, length: number): Float32Array | undefined {
  if (bytes.byteLength !== length * 4) return undefined; // truncated or foreign: recomputed and rewritten
  const out = new Float32Array(length);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

function bytesOf(vector: Float32Array): Uint8Array {
  return new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
}

async function mapParallel<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return out;
}
