/**
 * Ingest benchmark: decode + dHash throughput on the shared dHash fixture photos, on one core
 * and on all cores, beside a bare sharp decode and Python's imagehash. Prints figures only.
 *
 *   npm run bench:ingest            (or: npx tsc -p tsconfig.build.json && node dist/bench/ingest.js)
 *
 * One core is measured twice: one image at a time in this process (sharp.concurrency(1)), and the
 * same loop in a child pinned to one CPU with taskset (Linux), beside imagehash pinned likewise.
 * Environment: BENCH_ROUNDS (default 7), BENCH_PYTHON (default python3), DHASH_FIXTURES (folder).
 * The machine is shared and noisy: every figure is the median of the rounds.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

import sharp from 'sharp';

import { loadSettings } from '../src/config';
import { validateImage } from '../src/dataset/validate';
import { decodeLikePillow, type RawPixels } from '../src/image/decode';
import { DHASH_SIZE, dhashFromPixels } from '../src/image/dhash';
import { pillowGreyResize, pillowGreyscale, pillowLanczosResize, simdAvailable } from '../src/image/pillow';
import { sharedDataPath } from '../src/localStack/sharedData';
import { mean, median } from '../src/util/statistics';
import type { IngestWorkerData, IngestWorkerReply, IngestWorkerRequest } from './ingestWorker';

const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 7) || 7);
const PYTHON = process.env['BENCH_PYTHON'] ?? 'python3';
const LIMIT = { limitInputPixels: 100_000_000 };
const CORES = os.availableParallelism();
/** The CPU that the pinned one-core runs share. */
const PIN_CPU = '0';
const ONE_CORE_CHILD_FLAG = '--one-core-json';

/** The dHash fixtures: DHASH_FIXTURES when set, else ../shared/fixtures/dhash. */
function findFixtures(): string {
  const given = process.env['DHASH_FIXTURES'];
  if (given === undefined) return sharedDataPath('fixtures', 'dhash');
  if (!fs.existsSync(path.join(given, 'golden.json'))) throw new Error(`DHASH_FIXTURES=${given} holds no golden.json`);
  return given;
}

const now = (): number => performance.now();

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const rates = (xs: readonly number[]): string =>
  `median ${f1(median(xs))}/s  (rounds: ${xs.map((x) => x.toFixed(0)).join(' ')})`;

interface OneCoreResult {
  ours: number[];
  /** The ingest path: header checks (format, pixel limit, sizes), decode, hash. */
  validated: number[];
  bare: number[];
  decodeMs: number[][];
  hashMs: number[][];
}

async function oneCore(buffers: readonly Buffer[]): Promise<OneCoreResult> {
  const n = buffers.length;
  const res: OneCoreResult = {
    ours: [],
    validated: [],
    bare: [],
    decodeMs: buffers.map(() => []),
    hashMs: buffers.map(() => []),
  };
  const ours = async (record: boolean): Promise<number> => {
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const a = now();
      const px = await decodeLikePillow(buffers[i]!, LIMIT);
      const b = now();
      dhashFromPixels(px);
      const c = now();
      if (record) {
        res.decodeMs[i]!.push(b - a);
        res.hashMs[i]!.push(c - b);
      }
    }
    return (n * 1000) / (now() - t0);
  };
  const bare = async (): Promise<number> => {
    const t0 = now();
    for (const buf of buffers) await sharp(buf).raw().toBuffer();
    return (n * 1000) / (now() - t0);
  };
  const ingestSettings = loadSettings({ AzureWebJobsStorage: 'unused by this benchmark' }).ingest;
  const validated = async (): Promise<number> => {
    const t0 = now();
    for (const buf of buffers) dhashFromPixels((await validateImage(buf, ingestSettings)).pixels);
    return (n * 1000) / (now() - t0);
  };
  await ours(false); // warm-up: JIT, coefficient caches, WebAssembly memory
  await bare();
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate the order so that neither side always runs right after the other's garbage.
    if (r % 2 === 0) {
      res.ours.push(await ours(true));
      res.validated.push(await validated());
      res.bare.push(await bare());
    } else {
      res.bare.push(await bare());
      res.validated.push(await validated());
      res.ours.push(await ours(true));
    }
  }
  return res;
}

/** Per-image medians of the greyscale and resize stages, separately (plain JS reference functions) and fused (what dhash runs). */
async function stageSplit(
  buffers: readonly Buffer[],
): Promise<{ grey: number[]; resize: number[]; fused: number[]; fusedJs: number[] }> {
  const out = { grey: [] as number[], resize: [] as number[], fused: [] as number[], fusedJs: [] as number[] };
  const reps = Math.max(3, ROUNDS);
  for (const buf of buffers) {
    const px: RawPixels = await decodeLikePillow(buf, LIMIT);
    const g: number[] = [];
    const z: number[] = [];
    const f: number[] = [];
    const j: number[] = [];
    for (let r = 0; r < reps; r++) {
      const a = now();
      const grey = pillowGreyscale(px);
      const b = now();
      pillowLanczosResize(grey, px.width, px.height, DHASH_SIZE + 1, DHASH_SIZE);
      const c = now();
      pillowGreyResize(px, DHASH_SIZE + 1, DHASH_SIZE);
      const d = now();
      pillowGreyResize(px, DHASH_SIZE + 1, DHASH_SIZE, 'js');
      const e = now();
      g.push(b - a);
      z.push(c - b);
      f.push(d - c);
      j.push(e - d);
    }
    out.grey.push(median(g));
    out.resize.push(median(z));
    out.fused.push(median(f));
    out.fusedJs.push(median(j));
  }
  return out;
}

/** All cores from one thread: `inFlight` images at once on libuv's pool, hashing on the main thread. */
async function inFlight(buffers: readonly Buffer[], inFlightCount: number, mode: 'hash' | 'bare'): Promise<number> {
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: inFlightCount }, async () => {
      for (let i = next++; i < buffers.length; i = next++) {
        if (mode === 'hash') dhashFromPixels(await decodeLikePillow(buffers[i]!, LIMIT));
        else await sharp(buffers[i]).raw().toBuffer();
      }
    }),
  );
  return (buffers.length * 1000) / (now() - t0);
}

class Pool {
  private readonly workers: Worker[] = [];
  private readonly counter = new SharedArrayBuffer(4);

  private constructor(private readonly total: number) {}

  static async start(script: string, dir: string, names: string[], size: number): Promise<Pool> {
    const pool = new Pool(names.length);
    const data: IngestWorkerData = { dir, names, counter: pool.counter, limitInputPixels: LIMIT.limitInputPixels };
    for (let i = 0; i < size; i++) pool.workers.push(new Worker(script, { workerData: data }));
    await Promise.all(pool.workers.map((w) => Pool.reply(w)));
    return pool;
  }

  private static reply(w: Worker): Promise<IngestWorkerReply> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: IngestWorkerReply): void => {
        w.off('error', onError);
        if (m.kind === 'error') reject(new Error(`worker: ${m.message}`));
        else resolve(m);
      };
      const onError = (e: Error): void => {
        w.off('message', onMessage);
        reject(e);
      };
      w.once('message', onMessage);
      w.once('error', onError);
    });
  }

  async run(mode: 'hash' | 'bare'): Promise<number> {
    Atomics.store(new Int32Array(this.counter), 0, 0);
    const t0 = now();
    const replies = this.workers.map((w) => Pool.reply(w));
    const msg: IngestWorkerRequest = { kind: 'run', mode };
    for (const w of this.workers) w.postMessage(msg);
    const done = await Promise.all(replies);
    const elapsed = now() - t0;
    const count = done.reduce((s, m) => s + (m.kind === 'done' ? m.count : 0), 0);
    if (count !== this.total) throw new Error(`pool hashed ${count} of ${this.total} files`);
    return (this.total * 1000) / elapsed;
  }

  async stop(): Promise<void> {
    const msg: IngestWorkerRequest = { kind: 'stop' };
    for (const w of this.workers) w.postMessage(msg);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

interface PythonResult {
  impl: string;
  pillow: string;
  hashes: Record<string, string>;
  one: number[];
  all: number[];
}

/** imagehash 4.3.2's dhash; where imagehash is not installed but Pillow and numpy are, the same few lines inline (labelled so). */
const PY_SCRIPT = `
import sys, os, io, json, time
d, rounds, procs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = sys.argv[4:]
import PIL, numpy
from PIL import Image
try:
    import imagehash
    def dhash(im):
        return str(imagehash.dhash(im, hash_size=16))
    impl = 'imagehash ' + getattr(imagehash, '__version__', '?')
except ImportError:
    def dhash(image, hash_size=16):
        image = image.convert('L').resize((hash_size + 1, hash_size), Image.LANCZOS)
        pixels = numpy.asarray(image)
        diff = pixels[:, 1:] > pixels[:, :-1]
        bit_string = ''.join(str(b) for b in 1 * diff.flatten())
        width = int(numpy.ceil(len(bit_string) / 4))
        return '{:0>{width}x}'.format(int(bit_string, 2), width=width)
    impl = 'imagehash NOT installed: inline copy of imagehash 4.3.2 dhash'
bufs = [open(os.path.join(d, n), 'rb').read() for n in names]
def h(i):
    return dhash(Image.open(io.BytesIO(bufs[i])))
print(json.dumps({'impl': impl, 'pillow': PIL.__version__, 'hashes': dict(zip(names, [h(i) for i in range(len(bufs))]))}), flush=True)
for r in range(rounds):
    t = time.perf_counter()
    for i in range(len(bufs)):
        h(i)
    print(json.dumps({'one': len(bufs) / (time.perf_counter() - t)}), flush=True)
if procs > 1:
    import multiprocessing as mp
    with mp.get_context('fork').Pool(procs) as pool:
        pool.map(h, range(len(bufs)))
        for r in range(rounds):
            t = time.perf_counter()
            pool.map(h, range(len(bufs)), chunksize=4)
            print(json.dumps({'all': len(bufs) / (time.perf_counter() - t)}), flush=True)
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command, optionally pinned to one CPU with taskset (every thread of it then shares that core). */
function runCommand(command: string, args: string[], timeoutMs: number, pin = false): Promise<Run> {
  const [cmd, argv] = pin ? ['taskset', ['-c', PIN_CPU, command, ...args]] : [command, args];
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => resolve({ code: -1, stdout, stderr: stderr + e.message }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function python(dir: string, names: string[], pin = false): Promise<PythonResult | string> {
  const probe = await runCommand(PYTHON, ['-c', 'import imagehash, PIL'], 60_000);
  if (probe.code !== 0) {
    const fallback = await runCommand(PYTHON, ['-c', 'import PIL, numpy'], 60_000);
    if (fallback.code !== 0)
      return `skipped: \`${PYTHON} -c "import imagehash, PIL"\` fails (${probe.stderr.trim().split('\n').pop() ?? 'no output'})`;
  }
  const procs = pin ? 1 : CORES;
  const run = await runCommand(PYTHON, ['-c', PY_SCRIPT, dir, String(ROUNDS), String(procs), ...names], 600_000, pin);
  if (run.code !== 0) return `failed (exit ${run.code}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  const lines = run.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const head = lines[0] as { impl: string; pillow: string; hashes: Record<string, string> } | undefined;
  if (!head) return 'failed: no output';
  return {
    impl: head.impl,
    pillow: head.pillow,
    hashes: head.hashes,
    one: lines.flatMap((l) => (typeof l['one'] === 'number' ? [l['one']] : [])),
    all: lines.flatMap((l) => (typeof l['all'] === 'number' ? [l['all']] : [])),
  };
}

/**
 * "One core" in the strict sense: the same one-core loop in a child process pinned to a single
 * CPU, so that sharp's libuv and libvips threads share it with the main thread. Unpinned,
 * one-at-a-time decoding also pays for thread wake-ups across cores, which a pinned run avoids.
 */
async function pinnedOneCore(): Promise<{ ours: number[]; bare: number[] } | string> {
  if (process.platform !== 'linux') return 'skipped: taskset is Linux-only';
  const probe = await runCommand('taskset', ['-c', PIN_CPU, 'true'], 10_000);
  if (probe.code !== 0) return 'skipped: taskset not available';
  const run = await runCommand(process.execPath, [__filename, ONE_CORE_CHILD_FLAG], 600_000, true);
  const line = run.stdout.trim().split('\n').pop() ?? '';
  if (run.code !== 0 || !line.startsWith('{'))
    return `failed (exit ${run.code}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  return JSON.parse(line) as { ours: number[]; bare: number[] };
}

async function oneCoreChild(): Promise<void> {
  const dir = findFixtures();
  const names = Object.keys(
    (JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8')) as { files: Record<string, unknown> }).files,
  ).sort();
  sharp.concurrency(1);
  sharp.cache(false);
  const r = await oneCore(names.map((n) => fs.readFileSync(path.join(dir, n))));
  console.log(JSON.stringify({ ours: r.ours, bare: r.bare }));
}

async function main(): Promise<void> {
  const dir = findFixtures();
  const golden = (
    JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8')) as { files: Record<string, { dhash16: string }> }
  ).files;
  const names = Object.keys(golden).sort();
  const buffers = names.map((n) => fs.readFileSync(path.join(dir, n)));
  const megapixels =
    (await Promise.all(buffers.map((b) => sharp(b).metadata()))).reduce(
      (s, m) => s + (m.width ?? 0) * (m.height ?? 0),
      0,
    ) / 1e6;

  sharp.concurrency(1);
  sharp.cache(false);
  console.log(`ingest bench: ${names.length} files (${f1(megapixels)} Mpx) from ${dir}`);
  console.log(
    `node ${process.version}, sharp ${sharp.versions.sharp ?? '?'} / libvips ${sharp.versions.vips}, ${CORES} cores (os.availableParallelism), ` +
      `${ROUNDS} rounds, WebAssembly SIMD ${simdAvailable() ? 'on' : 'off (JS fallback)'}` +
      (process.env['GLIBC_TUNABLES'] ? `, GLIBC_TUNABLES=${process.env['GLIBC_TUNABLES']}` : ''),
  );

  // Correctness first: the rates below are only worth having for identical hashes.
  const ours = new Map<string, string>();
  for (let i = 0; i < names.length; i++)
    ours.set(names[i]!, dhashFromPixels(await decodeLikePillow(buffers[i]!, LIMIT)));
  const agreeGolden = names.filter((n) => ours.get(n) === golden[n]!.dhash16).length;
  console.log(`\nour hashes equal to golden.json (imagehash 4.3.2, Pillow 9.4.0): ${agreeGolden}/${names.length}`);

  console.log('\n== one core (sharp.concurrency(1), one image at a time) ==');
  const one = await oneCore(buffers);
  console.log(`decode + dhash (ours):            ${rates(one.ours)}`);
  console.log(`validate + dhash (ingest path):   ${rates(one.validated)}`);
  console.log(`bare sharp(buf).raw().toBuffer(): ${rates(one.bare)}`);
  const perImage = (xs: number[][]): number[] => xs.map((x) => median(x));
  const dec = perImage(one.decodeMs);
  const hsh = perImage(one.hashMs);
  const split = await stageSplit(buffers);
  console.log("per image, ms (median over images of each image's median; mean in brackets):");
  console.log(`  decode (sharp, as Pillow sees it)       ${f3(median(dec))}  [${f3(mean(dec))}]`);
  console.log(
    `  greyscale + resize + bits, as run:      ${f3(median(hsh))}  [${f3(mean(hsh))}]   (fused, ${simdAvailable() ? 'WebAssembly SIMD' : 'JS'})`,
  );
  console.log(`    of which greyscale + resize (fused):  ${f3(median(split.fused))}  [${f3(mean(split.fused))}]`);
  console.log(`    same, fused plain-JS fallback:         ${f3(median(split.fusedJs))}  [${f3(mean(split.fusedJs))}]`);
  console.log(`    reference JS, greyscale alone:         ${f3(median(split.grey))}  [${f3(mean(split.grey))}]`);
  console.log(`    reference JS, Lanczos resize alone:    ${f3(median(split.resize))}  [${f3(mean(split.resize))}]`);

  const pinned = await pinnedOneCore();
  console.log(`one core, pinned (taskset -c ${PIN_CPU}, all threads on one CPU):`);
  if (typeof pinned === 'string') {
    console.log(`  ${pinned}`);
  } else {
    console.log(`  decode + dhash (ours):            ${rates(pinned.ours)}`);
    console.log(`  bare sharp(buf).raw().toBuffer(): ${rates(pinned.bare)}`);
  }

  console.log(`\n== all cores (${CORES}) ==`);
  // Pools of CORES and 2 x CORES workers: the extra workers fill the gaps while others wait on libvips threads.
  const workerScript = path.join(__dirname, 'ingestWorker.js');
  const poolSizes = [CORES, 2 * CORES];
  const poolHash: number[][] = poolSizes.map(() => []);
  const poolBare: number[][] = poolSizes.map(() => []);
  const flightHash: number[] = [];
  const flightBare: number[] = [];
  const built = fs.existsSync(workerScript);
  if (!built) console.log(`(worker pools skipped: ${workerScript} not built; run the compiled bench)`);
  for (let p = 0; built && p < poolSizes.length; p++) {
    const pool = await Pool.start(workerScript, dir, names, poolSizes[p]!);
    await pool.run('hash'); // warm-up
    await pool.run('bare');
    for (let r = 0; r < ROUNDS; r++) {
      poolHash[p]!.push(await pool.run('hash'));
      poolBare[p]!.push(await pool.run('bare'));
    }
    await pool.stop();
  }
  await inFlight(buffers, CORES, 'hash');
  for (let r = 0; r < ROUNDS; r++) {
    flightHash.push(await inFlight(buffers, CORES, 'hash'));
    flightBare.push(await inFlight(buffers, CORES, 'bare'));
  }
  for (let p = 0; built && p < poolSizes.length; p++) {
    console.log(`decode + dhash, ${poolSizes[p]} worker threads:            ${rates(poolHash[p]!)}`);
    console.log(`bare decode, ${poolSizes[p]} worker threads:               ${rates(poolBare[p]!)}`);
  }
  console.log(`decode + dhash, 1 thread, ${CORES} in flight (libuv): ${rates(flightHash)}`);
  console.log(`bare decode, 1 thread, ${CORES} in flight (libuv):    ${rates(flightBare)}`);
  const allOurs = Math.max(...poolHash.map((x) => median(x)).filter(Number.isFinite), median(flightHash));
  const allBare = Math.max(...poolBare.map((x) => median(x)).filter(Number.isFinite), median(flightBare));
  console.log(`best of the above: ours ${f1(allOurs)}/s, bare decode ${f1(allBare)}/s`);

  console.log('\n== Python ==');
  const py = await python(dir, names);
  const pyPinned = typeof pinned === 'string' ? pinned : await python(dir, names, true);
  let pyOne = NaN;
  let pyAll = NaN;
  let pyPinnedOne = NaN;
  if (typeof py === 'string') {
    console.log(`imagehash ${py}`);
  } else {
    pyOne = median(py.one);
    pyAll = median(py.all);
    const agreeOurs = names.filter((n) => py.hashes[n] === ours.get(n)).length;
    const agreeGoldenPy = names.filter((n) => py.hashes[n] === golden[n]!.dhash16).length;
    console.log(`${py.impl}, Pillow ${py.pillow} (${PYTHON})`);
    console.log(
      `hashes agreeing with ours: ${agreeOurs}/${names.length} (with golden.json: ${agreeGoldenPy}/${names.length})`,
    );
    console.log(`one core (one process):         ${rates(py.one)}`);
    if (py.all.length) console.log(`all cores (${CORES} processes, fork):  ${rates(py.all)}`);
    if (typeof pyPinned === 'string') {
      console.log(`one core, pinned: ${pyPinned}`);
    } else {
      pyPinnedOne = median(pyPinned.one);
      console.log(`one core, pinned (taskset -c ${PIN_CPU}): ${rates(pyPinned.one)}`);
    }
  }

  console.log('\n== summary (medians, files/s) ==');
  console.log(
    `one core:  ours ${f1(median(one.ours))} (validate + dhash ${f1(median(one.validated))}), bare decode ${f1(median(one.bare))}, imagehash ${f1(pyOne)}`,
  );
  if (typeof pinned !== 'string') {
    const po = median(pinned.ours);
    const pb = median(pinned.bare);
    console.log(
      `one core, pinned: ours ${f1(po)}, bare decode ${f1(pb)}, imagehash ${f1(pyPinnedOne)}  (ours / imagehash ${f2(po / pyPinnedOne)}, ours / bare ${f2(po / pb)})`,
    );
  }
  console.log(`all cores: ours ${f1(allOurs)}, bare decode ${f1(allBare)}, imagehash ${f1(pyAll)}`);
  console.log(
    `ours / bare decode:  one core ${f2(median(one.ours) / median(one.bare))}, all cores ${f2(allOurs / allBare)}`,
  );
  console.log(
    `ours / imagehash:    one core ${f2(median(one.ours) / pyOne)}, all cores ${f2(allOurs / pyAll)}; ours on all cores / imagehash on one core ${f2(allOurs / pyOne)}`,
  );
}

(process.argv.includes(ONE_CORE_CHILD_FLAG) ? oneCoreChild() : main()).catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
