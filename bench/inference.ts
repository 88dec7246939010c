/**
 * Inference benchmark: POST /classify on the local host (Azurite + the built functions) beside the bare minimum
 * for the same photos: sharp decode + straight resize to 224x224 raw, HWC->NCHW floats, and session.run of the
 * same fused model with the same session options (servingSessionOptions).
 *   (a) one request at a time: p50/p99 latency against bare batch-1 work  -> p50Ratio = ours / bare
 *   (b) 8 concurrent clients: images/s against bare work in batches of 8 and 16 -> throughputRatio = ours / best bare,
 *       in rounds that take turns (ours, bare 8, bare 16, in rotating order), median over rounds: the machine is
 *       shared and noisy, and a burst of other work then hits both sides rather than one. Each round also runs the
 *       classifier without HTTP (same process, own model cache), to tell the serving code from the HTTP path.
 *   (c) cold start: a fresh Node process from its spawn to its first answer, the app's function files on a local
 *       host (against the same storage, the model published) answering one POST /classify, beside a fresh process
 *       doing a bare InferenceSession.create of the same model file plus one run -> coldStartRatio = ours / bare
 * The client is a plain node:http keep-alive client: it shares the 2 cores (and the event loop) with the server,
 * so it is kept as light as the bare side; (a) also reports Node's fetch, which costs more per request.
 *   npm run bench:inference   (BENCH_REQUESTS=60, BENCH_CONCURRENT_REQUESTS=96, BENCH_ROUNDS=5, BENCH_COLD_ROUNDS=5)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

import * as ort from 'onnxruntime-node';
import sharp from 'sharp';

import { startAppStack } from '../src/localStack/appStack';
import { seedGarments } from '../src/localStack/garmentDatasets';
import { sharedDataPath } from '../src/localStack/sharedData';
import { servingSessionOptions } from '../src/serve/modelCache';
import { mean, median, percentile } from '../src/util/statistics';

const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 60);
const CONCURRENT_REQUESTS = Number(process.env['BENCH_CONCURRENT_REQUESTS'] ?? 96);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const COLD_ROUNDS = Number(process.env['BENCH_COLD_ROUNDS'] ?? 5);
const CLIENTS = 8;

const f = (ms: number) => ms.toFixed(1);

interface Timing {
  decode: number;
  inference: number;
  total: number;
}

interface ColdStart {
  /** From the spawn to the child's line on stdout, on the parent's clock. */
  wallMs: number;
  /** The child's own phases (ms since it started). */
  phases: Record<string, number>;
}

/** Runs bench/coldStartChild.js in a fresh process and times it from its spawn to its first answer. */
function coldStart(mode: 'app' | 'bare', file: string, env: NodeJS.ProcessEnv): Promise<ColdStart> {
  // A fresh process each time, as a new instance is.
  return new Promise((resolve, reject) => {
    const begin = performance.now();
    const child = spawn(process.execPath, [path.join(__dirname, 'coldStartChild.js'), mode, file], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let wallMs: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (wallMs === undefined && out.includes('\n')) wallMs = performance.now() - begin;
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || wallMs === undefined)
        return reject(new Error(`cold start (${mode}) exited with ${code}: ${err.trim() || out.trim()}`));
      resolve({ wallMs, phases: JSON.parse(out.split('\n')[0]!) as Record<string, number> });
    });
  });
}

/** CPU time (ms) the whole machine has spent busy, or undefined where /proc/stat is missing. */
function machineBusyMs(): number | undefined {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system (idle iowait) irq softirq steal, in USER_HZ (100 per second)
    return (fields[0]! + fields[1]! + fields[2]! + fields[5]! + fields[6]! + fields[7]!) * 10;
  } catch {
    return undefined;
  }
}

/** Runs `work` and says what share of the cores other processes used meanwhile (noise on a shared machine). */
async function measured<T>(work: () => Promise<T>): Promise<{ result: T; ms: number; othersShare?: number }> {
  const busy = machineBusyMs();
  const cpu = process.cpuUsage();
  const begin = performance.now();
  const result = await work();
  const ms = performance.now() - begin;
  const used = process.cpuUsage(cpu);
  const busyAfter = machineBusyMs();
  if (busy === undefined || busyAfter === undefined) return { result, ms };
  const others = Math.max(0, busyAfter - busy - (used.user + used.system) / 1000);
  return { result, ms, othersShare: others / (ms * os.availableParallelism()) };
}

async function main(): Promise<void> {
  const projectRoot = path.resolve(__dirname, '..', '..');
  const photosRoot = sharedDataPath('datasets', 'trashnet-subset');
  const photos = fs
    .readdirSync(photosRoot)
    .sort()
    .flatMap((label) =>
      fs
        .readdirSync(path.join(photosRoot, label))
        .sort()
        .slice(0, 6)
        .map((name) => fs.readFileSync(path.join(photosRoot, label, name))),
    );

  const functionsDir = path.join(projectRoot, 'dist', 'functions');
  // The app's settings go to the services and to the functions on the host, not into process.env. A small model:
  // the labels do not matter for timing, the backbone does.
  const stack = await startAppStack({
    projectRoot,
    functionFiles: fs
      .readdirSync(functionsDir)
      .filter((n) => n.endsWith('.js'))
      .map((n) => path.join(functionsDir, n)),
    hostId: 'bench-inference',
    seed: (services) => seedGarments(services, 'bench'),
  });
  const { services, host } = stack;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  try {
    const started = (await (
      await fetch(`${host.url}/api/datasets/bench/train`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ augmentedViews: 0 }),
      })
    ).json()) as { jobId: string };
    for (;;) {
      const job = (await (await fetch(`${host.url}/api/datasets/bench/jobs/${started.jobId}`)).json()) as {
        status: string;
        error?: string;
      };
      if (job.status === 'failed') throw new Error(`training failed: ${job.error}`);
      if (job.status === 'succeeded') break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const version = started.jobId;
    const modelBytes = await services.training.models.readModel('bench', version);

    const classifyUrl = new URL(`${host.url}/api/datasets/bench/classify`);
    const classify = (photo: Buffer, retry = true): Promise<{ ms: number; timing: Timing }> =>
      new Promise((resolve, reject) => {
        const begin = performance.now();
        const request = http.request(
          {
            agent,
            hostname: classifyUrl.hostname,
            port: classifyUrl.port,
            path: classifyUrl.pathname,
            method: 'POST',
            headers: { 'content-type': 'image/jpeg', 'content-length': photo.length },
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('error', (error: Error) => reject(error));
            response.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              if (response.statusCode !== 200)
                return reject(new Error(`classify answered ${response.statusCode}: ${text}`));
              try {
                const body = JSON.parse(text) as { timingInMs: Timing };
                resolve({ ms: performance.now() - begin, timing: body.timingInMs });
              } catch (error) {
                reject(
                  error instanceof Error ? error : new Error('classify answered unreadable JSON', { cause: error }),
                );
              }
            });
          },
        );
        // A kept-alive socket that the server closed while idle: send again on a new one (as fetch does).
        request.on('error', (error: NodeJS.ErrnoException) => {
          if (retry && request.reusedSocket && error.code === 'ECONNRESET')
            classify(photo, false).then(resolve, reject);
          else reject(error);
        });
        request.end(photo);
      });
    const classifyWithFetch = async (photo: Buffer): Promise<number> => {
      const begin = performance.now();
      const response = await fetch(classifyUrl, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body: photo,
      });
      const body = await response.json();
      if (response.status !== 200) throw new Error(`classify answered ${response.status}: ${JSON.stringify(body)}`);
      return performance.now() - begin;
    };

    const session = await ort.InferenceSession.create(modelBytes, servingSessionOptions());
    // Diagnostics: the batch sizes the server's session ran in (b) (it shares this process and its onnxruntime).
    const serverBatches: number[] = [];
    let recordBatches = false;
    type Run = (
      this: ort.InferenceSession,
      feeds: ort.InferenceSession.FeedsType,
      ...rest: unknown[]
    ) => Promise<ort.InferenceSession.ReturnType>;
    const sessionClass = Object.getPrototypeOf(session) as { run: Run };
    const run = sessionClass.run;
    sessionClass.run = function (feeds, ...rest) {
      if (recordBatches && this !== session) serverBatches.push((Object.values(feeds)[0] as ort.Tensor).dims[0]!);
      return run.call(this, feeds, ...rest);
    };

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
    // As the server's batcher does: one view goes in as it is, batches share one input buffer (a fresh one per run
    // costs CPU: zeroed pages, garbage collection).
    let bareInput = new Float32Array(0);
    const bareRun = async (views: Float32Array[]): Promise<void> => {
      let input = views[0]!;
      if (views.length > 1) {
        const size = views.length * input.length;
        if (bareInput.length < size) bareInput = new Float32Array(size);
        input = bareInput.subarray(0, size);
        views.forEach((v, i) => input.set(v, i * v.length));
      }
      await session.run({ input: new ort.Tensor('float32', input, [views.length, 3, 224, 224]) });
    };

    // Warm-up: the server loads its session, both sides touch the code paths.
    for (let i = 0; i < 4; i++) {
      await classify(photos[i]!);
      await classifyWithFetch(photos[i]!);
      await bareRun([await bareView(photos[i]!)]);
    }

    // (a) One at a time, the three in turn.
    const ours: number[] = [];
    const oursWithFetch: number[] = [];
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
      oursWithFetch.push(await classifyWithFetch(photo));
    }
    const p50Ratio = percentile(ours, 50) / percentile(bare, 50);
    console.log(
      `inference bench: ${photos.length} TrashNet photos (512x384 JPEG), model ${version}, ${os.availableParallelism()} cores, ONNX Runtime CPU`,
    );
    console.log(`(a) one at a time, ${REQUESTS} requests`);
    console.log(`  HTTP classify  p50 ${f(percentile(ours, 50))} ms  p99 ${f(percentile(ours, 99))} ms`);
    console.log(`  bare           p50 ${f(percentile(bare, 50))} ms  p99 ${f(percentile(bare, 99))} ms`);
    console.log(
      `  with fetch as the client: p50 ${f(percentile(oursWithFetch, 50))} ms (ratio ${(percentile(oursWithFetch, 50) / percentile(bare, 50)).toFixed(2)})`,
    );
    console.log(
      `  where it goes (means): server decode (validateImage + renderView) ${f(mean(timings.map((t) => t.decode)))} ms, inference (batching + run) ${f(mean(timings.map((t) => t.inference)))} ms, ` +
        `server total ${f(mean(timings.map((t) => t.total)))} ms, HTTP + host around it ${f(mean(ours) - mean(timings.map((t) => t.total)))} ms; bare decode ${f(mean(bareDecode))} ms, bare run ${f(mean(bareInference))} ms`,
    );

    // (b) 8 concurrent clients, and the bare work in batches, in rounds.
    const concurrentTimings: Timing[] = [];
    // Each returns how many images it did.
    const oursRound = async (): Promise<number> => {
      let next = 0;
      recordBatches = true;
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (next < CONCURRENT_REQUESTS)
            concurrentTimings.push((await classify(photos[next++ % photos.length]!)).timing);
        }),
      );
      recordBatches = false;
      return CONCURRENT_REQUESTS;
    };
    const bareRound = async (batch: number): Promise<number> => {
      let done = 0;
      while (done < CONCURRENT_REQUESTS) {
        const chunk = Array.from({ length: batch }, (_, i) => photos[(done + i) % photos.length]!);
        await bareRun(await Promise.all(chunk.map(bareView)));
        done += batch;
      }
      return done;
    };
    // Diagnostics: the same 8 clients calling the classifier in this process (its own model cache), without HTTP.
    const noHttpRound = async (): Promise<number> => {
      let next = 0;
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (next < CONCURRENT_REQUESTS)
            JSON.stringify(
              await services.classifier.classify('bench', [{ content: photos[next++ % photos.length]! }], () => ({
                top: 5,
              })),
            );
        }),
      );
      return CONCURRENT_REQUESTS;
    };
    const sides = [
      { name: 'ours', run: oursRound },
      { name: 'bare 8', run: () => bareRound(8) },
      { name: 'bare 16', run: () => bareRound(16) },
      { name: 'no HTTP', run: noHttpRound },
    ];
    // Warm-up: both sides at their batch sizes once (onnxruntime sizes its buffers on the first run of a shape).
    for (const side of sides) await side.run();
    serverBatches.length = 0;
    concurrentTimings.length = 0;
    const rates = new Map<string, number[]>(sides.map((s) => [s.name, []]));
    const ratios: number[] = [];
    const noHttpRatios: number[] = [];
    console.log(
      `(b) ${CLIENTS} concurrent clients, ${ROUNDS} rounds of ${CONCURRENT_REQUESTS} requests (images/s; other processes' share of the cores)`,
    );
    for (let round = 0; round < ROUNDS; round++) {
      const got = new Map<string, { rate: number; othersShare?: number }>();
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(round + k) % sides.length]!;
        const { result: images, ms, othersShare } = await measured(side.run);
        const rate = images / (ms / 1000);
        got.set(side.name, { rate, ...(othersShare !== undefined ? { othersShare } : {}) });
        rates.get(side.name)!.push(rate);
      }
      const bestBare = Math.max(got.get('bare 8')!.rate, got.get('bare 16')!.rate);
      const ratio = got.get('ours')!.rate / bestBare;
      ratios.push(ratio);
      noHttpRatios.push(got.get('no HTTP')!.rate / bestBare);
      const cell = (name: string) => {
        const { rate, othersShare } = got.get(name)!;
        return `${name} ${rate.toFixed(1)}${othersShare !== undefined ? ` (${(othersShare * 100).toFixed(0)}%)` : ''}`;
      };
      console.log(`  round ${round + 1}: ${sides.map((s) => cell(s.name)).join('  ')}  ratio ${ratio.toFixed(2)}`);
    }
    const throughputRatio = median(ratios);
    const histogram = new Map<number, number>();
    for (const size of serverBatches) histogram.set(size, (histogram.get(size) ?? 0) + 1);
    console.log(`  HTTP classify  ${median(rates.get('ours')!).toFixed(1)} images/s (median)`);
    console.log(
      `  bare           batch 8: ${median(rates.get('bare 8')!).toFixed(1)} images/s, batch 16: ${median(rates.get('bare 16')!).toFixed(1)} images/s (medians)`,
    );
    console.log(
      `  no HTTP        ${median(rates.get('no HTTP')!).toFixed(1)} images/s (median; ratio ${median(noHttpRatios).toFixed(2)}): the same classifier called in this process`,
    );
    console.log(
      `  where it goes (means per request): decode ${f(mean(concurrentTimings.map((t) => t.decode)))} ms, inference incl. batching ${f(mean(concurrentTimings.map((t) => t.inference)))} ms, server total ${f(mean(concurrentTimings.map((t) => t.total)))} ms; ` +
        `server runs by batch size ${[...histogram]
          .sort((a, b) => a[0] - b[0])
          .map(([size, n]) => `${size}x${n}`)
          .join(' ')}`,
    );
    // (c) Cold starts: a fresh process from its spawn to its first answer: the app (its function files on a local
    // host against the same storage, one POST /classify), the same with its models' warm-up at start turned off
    // (SERVE_WARM_UP=none, as before it existed), and a bare InferenceSession.create of the same model file plus
    // one run; in rotating order.
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cold-'));
    const modelFile = path.join(scratch, 'model.onnx');
    const photoFile = path.join(scratch, 'photo.jpg');
    fs.writeFileSync(modelFile, modelBytes);
    fs.writeFileSync(photoFile, photos[0]!);
    const appEnv = (extra: Record<string, string>, requestAtMs = 0) => ({
      ...process.env,
      COLD_START_SETTINGS: JSON.stringify({ ...stack.settings, ...extra }),
      COLD_START_DATASET: 'bench',
      COLD_START_REQUEST_AT_MS: String(requestAtMs),
    });
    const coldSides = [
      { name: 'app', start: () => coldStart('app', photoFile, appEnv({})) },
      { name: 'no warm-up', start: () => coldStart('app', photoFile, appEnv({ SERVE_WARM_UP: 'none' })) },
      { name: 'bare', start: () => coldStart('bare', modelFile, process.env) },
    ] as const;
    // A first request that arrives after the start (an instance added ahead of its traffic): its own latency.
    const LATE_REQUEST_AT_MS = 2500;
    const lateSides = [
      { name: 'late', start: () => coldStart('app', photoFile, appEnv({}, LATE_REQUEST_AT_MS)) },
      {
        name: 'late, no warm-up',
        start: () => coldStart('app', photoFile, appEnv({ SERVE_WARM_UP: 'none' }, LATE_REQUEST_AT_MS)),
      },
    ] as const;
    const late = new Map<string, number[]>(lateSides.map((side) => [side.name, []]));
    const cold = new Map<string, number[]>(coldSides.map((side) => [side.name, []]));
    const coldRatios: number[] = [];
    const noWarmUpRatios: number[] = [];
    console.log(
      `(c) cold start: a fresh process to its first answer, ${COLD_ROUNDS} rounds (ms; the child's phases, ms since it started)`,
    );
    try {
      for (let round = 0; round < COLD_ROUNDS; round++) {
        const got = new Map<string, ColdStart>();
        for (let k = 0; k < coldSides.length; k++) {
          const side = coldSides[(round + k) % coldSides.length]!;
          got.set(side.name, await side.start());
        }
        const wall = (name: string) => got.get(name)!.wallMs;
        for (const side of coldSides) cold.get(side.name)!.push(wall(side.name));
        coldRatios.push(wall('app') / wall('bare'));
        noWarmUpRatios.push(wall('no warm-up') / wall('bare'));
        const cell = (name: string) =>
          `${name} ${f(wall(name))} (${Object.entries(got.get(name)!.phases)
            .map(([phase, ms]) => `${phase} ${ms.toFixed(0)}`)
            .join(', ')})`;
        console.log(
          `  round ${round + 1}: ${coldSides.map((side) => cell(side.name)).join('  ')}  ratio ${coldRatios.at(-1)!.toFixed(2)}`,
        );
        for (let k = 0; k < lateSides.length; k++) {
          const side = lateSides[(round + k) % lateSides.length]!;
          late.get(side.name)!.push((await side.start()).phases['latency']!);
        }
      }
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
    const coldStartRatio = median(coldRatios);
    const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
    console.log(
      `  app ${f(median(cold.get('app')!))} ms, without the warm-up ${f(median(cold.get('no warm-up')!))} ms, bare create + ` +
        `run ${f(median(cold.get('bare')!))} ms (medians); ratio ${coldStartRatio.toFixed(2)} (median of rounds, range ` +
        `${range(coldRatios)}), ${median(noWarmUpRatios).toFixed(2)} without the warm-up (range ${range(noWarmUpRatios)})`,
    );
    const lateCell = (name: string) =>
      `${f(median(late.get(name)!))} ms (${f(Math.min(...late.get(name)!))}-${f(Math.max(...late.get(name)!))})`;
    console.log(
      `  a first request ${LATE_REQUEST_AT_MS / 1000} s after the start: answered in ${lateCell('late')} with the warm-up, ` +
        `${lateCell('late, no warm-up')} without (medians, ranges)`,
    );

    console.log(
      JSON.stringify({
        p50Ratio: Number(p50Ratio.toFixed(2)),
        throughputRatio: Number(throughputRatio.toFixed(2)),
        coldStartRatio: Number(coldStartRatio.toFixed(2)),
      }),
    );
    await session.release();
  } finally {
    agent.destroy();
    await stack.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
