/**
 * One cold start, run by bench/inference.ts in a fresh Node process so that nothing is loaded or cached yet. It
 * writes one JSON line to stdout when it has its first answer; the parent times the process from its spawn to
 * that line, and the phases below are this process's own clock (performance.now(): milliseconds since it started).
 *   node dist/bench/coldStartChild.js bare MODEL_FILE   InferenceSession.create of the model file, then one run
 *   node dist/bench/coldStartChild.js app PHOTO         the app's function files on a local host (settings in the
 *                                                       COLD_START_SETTINGS environment variable, as JSON), then one
 *                                                       POST /classify of the photo for the dataset COLD_START_DATASET
 *                                                       (sent at once, or COLD_START_REQUEST_AT_MS after the start)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

type Phases = Record<string, number>;

async function bare(modelFile: string): Promise<Phases> {
  const ort = await import('onnxruntime-node');
  const { servingSessionOptions } = await import('../src/serve/modelCache');
  const imported = performance.now();
  const session = await ort.InferenceSession.create(modelFile, servingSessionOptions());
  const created = performance.now();
  const dims = [1, 3, 224, 224];
  const input = new ort.Tensor('float32', new Float32Array(3 * 224 * 224).fill(128), dims);
  await session.run({ [session.inputNames[0]!]: input });
  return { imported, created, answered: performance.now() };
}

async function app(photoFile: string): Promise<Phases> {
  const settings = JSON.parse(process.env['COLD_START_SETTINGS'] ?? '{}') as Record<string, string>;
  const dataset = process.env['COLD_START_DATASET'] ?? 'bench';
  const { startAppHost } = await import('../src/localStack/appStack');
  const imported = performance.now();
  const projectRoot = path.resolve(__dirname, '..', '..');
  const functionsDir = path.join(projectRoot, 'dist', 'functions');
  const host = await startAppHost({
    projectRoot,
    functionFiles: fs
      .readdirSync(functionsDir)
      .filter((n) => n.endsWith('.js'))
      .map((n) => path.join(functionsDir, n)),
    hostId: 'bench-cold-start',
    settings,
  });
  const listening = performance.now();
  const requestAtMs = Number(process.env['COLD_START_REQUEST_AT_MS'] ?? 0);
  if (performance.now() < requestAtMs)
    await new Promise((resolve) => setTimeout(resolve, requestAtMs - performance.now()));
  const sent = performance.now();
  const response = await fetch(`${host.url}/api/datasets/${dataset}/classify`, {
    method: 'POST',
    headers: { 'content-type': 'image/jpeg' },
    body: fs.readFileSync(photoFile),
  });
  const body = (await response.json()) as { timingInMs?: Record<string, number> };
  if (response.status !== 200) throw new Error(`classify answered ${response.status}: ${JSON.stringify(body)}`);
  const answered = performance.now();
  // Not awaited: the parent has what it needs, and stopping the host is not part of a start.
  void host.stop();
  return {
    imported,
    listening,
    sent,
    answered,
    latency: answered - sent,
    serverTotal: body.timingInMs?.['total'] ?? Number.NaN,
  };
}

async function main(): Promise<void> {
  const [mode, file] = process.argv.slice(2);
  if (!file || (mode !== 'bare' && mode !== 'app')) throw new Error('usage: coldStartChild.js bare MODEL | app PHOTO');
  const phases = mode === 'bare' ? await bare(file) : await app(file);
  process.stdout.write(`${JSON.stringify(phases)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
