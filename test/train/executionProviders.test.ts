// resolveProviders: the requested ONNX Runtime providers in order, each one that cannot load here dropped with a
// warning that names it, down to the CPU; and the registry that settings and options take their names from.
import { describe, expect, it } from 'vitest';

import { loadSettings } from '../../src/config';
import { ProgrammingError } from '../../src/errors';
import { EXECUTION_PROVIDER_NAMES } from '../../src/platform/executionProviderNames';
import { resolveProviders } from '../../src/train/executionProviders';
import { buildScoringGraph } from '../../src/train/headGraph';
import { runBuiltScript } from '../support/builtScript';

const model = buildScoringGraph(1, 2);

describe('resolveProviders', () => {
  it('opens a CPU session when the CPU is asked for', async () => {
    const warnings: string[] = [];
    const { session, providers } = await resolveProviders(model, ['cpu'], {
      purpose: 'the probe',
      log: (m) => warnings.push(m),
    });
    await session.release();
    expect(providers).toEqual(['cpu']);
    expect(warnings).toEqual([]);
  });

  it('keeps the requested order less what cannot load, names each drop, and always ends on the CPU', async () => {
    // In a child process: a WebGPU that cannot load Vulkan makes Dawn print to stderr, which is captured there.
    const requested = ['cuda', 'webgpu'];
    const { result } = await runBuiltScript(
      `const ort = require('onnxruntime-node');
       ort.env.logLevel = 'fatal';
       const { resolveProviders } = require('./dist/src/train/executionProviders.js');
       const { buildScoringGraph } = require('./dist/src/train/headGraph.js');
       const warnings = [];
       resolveProviders(buildScoringGraph(1, 2), ${JSON.stringify(requested)}, {
         purpose: 'the probe',
         log: (m) => warnings.push(m),
       }).then(async ({ session, providers }) => {
         await session.release();
         console.log(JSON.stringify({ providers, warnings }));
       });`,
      { needs: 'dist/src/train/executionProviders.js', timeoutInMs: 60_000 },
    );
    const { providers, warnings } = result as { providers: string[]; warnings: string[] };
    expect(providers.at(-1)).toBe('cpu');
    const all = [...requested, 'cpu'];
    const dropped = all.slice(0, all.length - providers.length);
    expect(all.slice(dropped.length)).toEqual(providers);
    expect(warnings).toHaveLength(dropped.length);
    dropped.forEach((name, i) =>
      expect(warnings[i]).toMatch(
        new RegExp(`^WARNING: execution provider ${name} is unavailable \\(.+\\); running the probe on \\[`),
      ),
    );
  });

  it('refuses an empty list and names it does not know, as a bug: the settings and icf eval check them first', async () => {
    const log = () => undefined;
    await expect(resolveProviders(model, [], { purpose: 'the probe', log })).rejects.toThrow(ProgrammingError);
    await expect(resolveProviders(model, [], { purpose: 'the probe', log })).rejects.toThrow(
      /executionProviders is empty; use \["cpu"\]/,
    );
    await expect(resolveProviders(model, ['tpu', 'cpu'], { purpose: 'the probe', log })).rejects.toThrow(
      /unknown providers \(tpu\); use some of cuda, webgpu, cpu/,
    );
  });

  it('is where the settings take the names from', () => {
    expect(EXECUTION_PROVIDER_NAMES).toEqual(['cuda', 'webgpu', 'cpu']);
    expect(
      loadSettings({ AzureWebJobsStorage: 'x', TRAIN_EXECUTION_PROVIDERS: 'webgpu, cpu' }).train.executionProviders,
    ).toEqual(['webgpu', 'cpu']);
    expect(() => loadSettings({ AzureWebJobsStorage: 'x', TRAIN_EXECUTION_PROVIDERS: 'cuda,tpu' })).toThrow(
      /TRAIN_EXECUTION_PROVIDERS.*lists execution providers from cuda, webgpu, cpu, e\.g\. "cuda,cpu"/,
    );
  });
});
