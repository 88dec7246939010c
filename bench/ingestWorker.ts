/**
 * Worker for bench/ingest.ts's all-cores figures: each worker holds the fixture bytes, and on
 * every 'run' takes files from a shared counter (Atomics.add) until none are left, so the pool
 * balances itself without per-file messages. Each decodes with sharp.concurrency(1): the
 * parallelism comes from the workers, not from libvips threads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

import sharp from 'sharp';

import { decodeLikePillow } from '../src/image/decode';
import { dhashFromPixels } from '../src/image/dhash';

export interface IngestWorkerData {
  dir: string;
  names: string[];
  /** Int32Array over it: [0] = next file index. */
  counter: SharedArrayBuffer;
  limitInputPixels: number;
}

export type IngestWorkerRequest = { kind: 'run'; mode: 'hash' | 'bare' } | { kind: 'stop' };

export type IngestWorkerReply =
  { kind: 'ready' } | { kind: 'done'; count: number } | { kind: 'error'; message: string };

function post(reply: IngestWorkerReply): void {
  parentPort?.postMessage(reply);
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('bench/ingestWorker must run as a worker thread');
  const data = workerData as IngestWorkerData;
  sharp.concurrency(1);
  sharp.cache(false);
  const buffers = data.names.map((n) => fs.readFileSync(path.join(data.dir, n)));
  const next = new Int32Array(data.counter);
  const options = { limitInputPixels: data.limitInputPixels };

  port.on('message', (msg: IngestWorkerRequest) => {
    if (msg.kind === 'stop') {
      port.close();
      return;
    }
    void (async () => {
      let count = 0;
      try {
        for (let i = Atomics.add(next, 0, 1); i < buffers.length; i = Atomics.add(next, 0, 1)) {
          const buf = buffers[i]!;
          if (msg.mode === 'hash') dhashFromPixels(await decodeLikePillow(buf, options));
          else await sharp(buf).raw().toBuffer();
          count++;
        }
        post({ kind: 'done', count });
      } catch (e) {
        post({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
      }
    })();
  });
  post({ kind: 'ready' });
}

main().catch((e: unknown) => post({ kind: 'error', message: e instanceof Error ? e.message : String(e) }));
