/**
 * Inference benchmark: POST /classify on the local host (Azurite + the built functions) beside the bare minimum
 * for the same photos: sharp decode + straight resize to 224x224 raw, HWC->NCHW floats, and session.run of the
 * same fused model with the same session options.
 *   (a) one request at a time: p50/p99 latency against bare batch-1 work  -> p50Ratio = ours / bare
 *   (b) 8 concurrent clients: images/s against bare work in batches of 8 and 16 -> throughputRatio = ours / best bare
 *   npm run bench:inference   (BENCH_REQUESTS=60, BENCH_CONCURRENT_REQUESTS=96)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { renderGarment } from '../src/collect/syntheticImages';
import { INCOMING_CONTAINER } from '../src/dataset/ingest';
import { startLocalHost } from '../src/host/localHost';
import { createServices } from '../src/services';
import { startAzurite } from '../src/storage/azurite';

const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 60);
const CONCURRENT_REQUESTS = Number(process.env['BENCH_CONCURRENT_REQUESTS'] ?? 96);
const CLIENTS = 8;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
const f = (ms: number) => ms.toFixed(1);

interface Timing {
  decode: number;
  inference: number;
  total: number;
}

async function main(): Promise<void> {
  const projectRoot = path.resolve(__dirname, '..', '..');
  const photosRoot = path.resolve(projectRoot, '..', 'shared', 'datasets', 'trashnet-subset');
  if (!fs.existsSync(photosRoot)) throw new Error(`${photosRoot} is missing: the benchmark reads ../shared/datasets/trashnet-subset`);
  const photos = fs
    .readdirSync(photosRoot)
    .sort()
    .flatMap((label) => fs.readdirSync(path.join(photosRoot, label)).sort().slice(0, 6).map((name) => fs.readFileSync(path.join(photosRoot, label, name))));

  const azurite = await startAzurite({ blobPort: 0, queuePort: 0, tablePort: 0 });
  Object.assign(process.env, { AzureWebJobsStorage: azurite.connectionString, COLLECT_SCHEDULE: '0 0 3 * * *' });
  const services = await createServices();
  const incoming = services.storage.blobs.getContainerClient(INCOMING_CONTAINER);
  // A small model: the labels do not matter for timing, the backbone does.
  for (const pattern of ['striped', 'dotted', 'leopard']) {
    for (let i = 0; i < 8; i++) {
      const blobName = `bench/${pattern}/${pattern}-${i}.jpg`;
      const content = await renderGarment({ item: 't-shirt', pattern, seed: 500 + i * 7 + pattern.length });
      await incoming.getBlockBlobClient(blobName).uploadData(content);
      await services.ingestor.ingest({ blobName, content });
    }
  }
  const functionsDir = path.join(projectRoot, 'dist', 'functions');
  const host = await startLocalHost({
    projectRoot,
    functionFiles: fs.readdirSync(functionsDir).filter((n) => n.endsWith('.js')).map((n) => path.join(functionsDir, n)),
    httpPort: 0,
    hostId: 'bench-inference',
    blobScanIntervalInMs: 60_000,
    logger: { log: () => undefined },
  });
  try {
    const started = (await (await fetch(`${host.url}/api/datasets/bench/train`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ epochs: 20, augmentedViews: 0 }) })).json()) as { jobId: string };
    for (;;) {
      const job = (await (await fetch(`${host.url}/api/datasets/bench/jobs/${started.jobId}`)).json()) as { status: string; error?: string };
      if (job.status === 'failed') throw new Error(`training failed: ${job.error}`);
      if (job.status === 'succeeded') break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const version = started.jobId;
    const modelBytes = await services.storage.blobs.getContainerClient('models').getBlockBlobClient(`bench/${version}/model.onnx`).downloadToBuffer();

    const classify = async (photo: Buffer): Promise<{ ms: number; timing: Timing }> => {
      const begin = performance.now();
      const response = await fetch(`${host.url}/api/datasets/bench/classify`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: photo });
      const body = (await response.json()) as { timingInMs: Timing };
      if (response.status !== 200) throw new Error(`classify answered ${response.status}: ${JSON.stringify(body)}`);
      return { ms: performance.now() - begin, timing: body.timingInMs };
    };

    const session = await ort.InferenceSession.create(modelBytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: os.availableParallelism() });
    const bareView = async (photo: Buffer): Promise<Float32Array> => {
      const { data } = await sharp(photo).resize(224, 224, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
      const plane = 224 * 224;
      const out = new Float32Array(3 * plane);
      for (let i = 0; i < plane; i++) {
        out[i] = data[i * 3]!;
        out[plane + i] = data[i * 3 + 1]!;
        out[2 * plane + i] = data[i * 3 + 2]!;
      }
      return out;
    };
    const bareRun = async (views: Float32Array[]): Promise<void> => {
      const input = new Float32Array(views.length * views[0]!.length);
      views.forEach((v, i) => input.set(v, i * v.length));
      await session.run({ input: new ort.Tensor('float32', input, [views.length, 3, 224, 224]) });
    };

    // Warm-up: the server loads its session, both sides touch the code paths.
    for (let i = 0; i < 4; i++) {
      await classify(photos[i]!);
      await bareRun([await bareView(photos[i]!)]);
    }

    // (a) One at a time.
    const ours: number[] = [];
    const timings: Timing[] = [];
    const bare: number[] = [];
    const bareDecode: number[] = [];
    const bareInference: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const photo = photos[i % photos.length]!;
      const result = await classify(photo);
      ours.push(result.ms);
      timings.push(result.timing);
      const begin = performance.now();
      const view = await bareView(photo);
      const mid = performance.now();
      await bareRun([view]);
      const end = performance.now();
      bare.push(end - begin);
      bareDecode.push(mid - begin);
      bareInference.push(end - mid);
    }
    const p50Ratio = percentile(ours, 50) / percentile(bare, 50);
    console.log(`inference bench: ${photos.length} TrashNet photos (512x384 JPEG), model ${version}, ${os.availableParallelism()} cores, ONNX Runtime CPU`);
    console.log(`(a) one at a time, ${REQUESTS} requests`);
    console.log(`  HTTP classify  p50 ${f(percentile(ours, 50))} ms  p99 ${f(percentile(ours, 99))} ms`);
    console.log(`  bare           p50 ${f(percentile(bare, 50))} ms  p99 ${f(percentile(bare, 99))} ms`);
    console.log(
      `  where it goes (means): server decode (validateImage + renderView) ${f(mean(timings.map((t) => t.decode)))} ms, inference (batch window + run) ${f(mean(timings.map((t) => t.inference)))} ms, ` +
        `server total ${f(mean(timings.map((t) => t.total)))} ms, HTTP + host around it ${f(mean(ours) - mean(timings.map((t) => t.total)))} ms; bare decode ${f(mean(bareDecode))} ms, bare run ${f(mean(bareInference))} ms`,
    );

    // (b) 8 concurrent clients.
    let next = 0;
    const concurrentTimings: Timing[] = [];
    const begin = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < CONCURRENT_REQUESTS) {
          const photo = photos[next++ % photos.length]!;
          concurrentTimings.push((await classify(photo)).timing);
        }
      }),
    );
    const oursThroughput = CONCURRENT_REQUESTS / ((performance.now() - begin) / 1000);
    const bareThroughput: Record<number, number> = {};
    for (const batch of [8, 16]) {
      const start = performance.now();
      let done = 0;
      while (done < CONCURRENT_REQUESTS) {
        const chunk = Array.from({ length: batch }, (_, i) => photos[(done + i) % photos.length]!);
        await bareRun(await Promise.all(chunk.map(bareView)));
        done += batch;
      }
      bareThroughput[batch] = done / ((performance.now() - start) / 1000);
    }
    const bestBare = Math.max(...Object.values(bareThroughput));
    const throughputRatio = oursThroughput / bestBare;
    console.log(`(b) ${CLIENTS} concurrent clients, ${CONCURRENT_REQUESTS} requests`);
    console.log(`  HTTP classify  ${oursThroughput.toFixed(1)} images/s`);
    console.log(`  bare           batch 8: ${bareThroughput[8]!.toFixed(1)} images/s, batch 16: ${bareThroughput[16]!.toFixed(1)} images/s`);
    console.log(
      `  where it goes (means per request): decode ${f(mean(concurrentTimings.map((t) => t.decode)))} ms, inference incl. batching ${f(mean(concurrentTimings.map((t) => t.inference)))} ms, server total ${f(mean(concurrentTimings.map((t) => t.total)))} ms`,
    );
    console.log(JSON.stringify({ p50Ratio: Number(p50Ratio.toFixed(2)), throughputRatio: Number(throughputRatio.toFixed(2)) }));
    await session.release();
  } finally {
    await host.stop();
    await azurite.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
