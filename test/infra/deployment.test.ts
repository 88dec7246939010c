// The deployment's choices that a first `azd up` depends on, read from the templates, azure.yaml and .funcignore:
// the trainer's GPU only when asked for, and refused (with the regions that have one) where there is none; what azd
// uploads (no node_modules, a remote build with the files it needs); secrets only through secure parameters; Flex's
// limits; and a trainer image built from a base outside Docker Hub.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import type { BicepFile, BicepValue } from './bicep';
import { Expression, infraDir, isPlainObject, readBicepFile, repoRoot, textOf, valueOf, variableValue } from './bicep';

const WORKLOAD_PROFILES = ['Consumption', 'Consumption-GPU-NC8as-T4', 'Consumption-GPU-NC24-A100'];

let main: BicepFile;
const files = new Map<string, BicepFile>();
beforeAll(async () => {
  main = await readBicepFile(path.join(infraDir, 'main.bicep'));
  files.set('main.bicep', main);
  for (const module of main.declarations.modules) {
    files.set(module.path, await readBicepFile(path.join(infraDir, module.path)));
  }
});

const text = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');
const decoratorsOf = (file: BicepFile, param: string) => file.declarations.params.get(param)?.decorators ?? [];

describe('the trainer', () => {
  it('runs on the CPU profile by default; a GPU profile is a choice main.bicep, the module and the hook agree on', () => {
    const allowed = `allowed(${JSON.stringify(WORKLOAD_PROFILES).replaceAll('"', "'").replaceAll(',', ', ')})`;
    expect(decoratorsOf(main, 'trainerWorkloadProfileType')).toContain(allowed);
    expect(decoratorsOf(files.get('app/trainer.bicep')!, 'workloadProfileType')).toContain(allowed);
    expect(text('infra/main.parameters.json')).toContain(
      '"trainerWorkloadProfileType": { "value": "${TRAINER_WORKLOAD_PROFILE_TYPE=Consumption}" }',
    );
    const gpuRegions = JSON.parse(text('infra/gpuRegions.json')) as Record<string, string[]>;
    expect(Object.keys(gpuRegions).sort()).toEqual(WORKLOAD_PROFILES.filter((p) => p !== 'Consumption').sort());
    for (const regions of Object.values(gpuRegions)) {
      for (const region of regions) expect(region).toMatch(/^[a-z0-9]+$/);
    }
    expect(variableValue(main, 'gpuRegions')).toEqual(new Expression("loadJsonContent('gpuRegions.json')"));
    expect(text('infra/hooks/preprovision.sh')).toContain('infra/gpuRegions.json');
    expect(text('infra/hooks/preprovision.ps1')).toContain('infra/gpuRegions.json');
  });

  it('is refused by the deployment itself where the region has no GPU of that type, naming the regions', () => {
    const trainer = main.declarations.modules.find((module) => module.path === 'app/trainer.bicep')!;
    const params = (valueOf(trainer.body) as Record<string, BicepValue>)['params'] as Record<string, BicepValue>;
    const profile = textOf(params['workloadProfileType']);
    expect(profile).toMatch(
      /^trainerRegionHasProfile\s+\? trainerWorkloadProfileType\s+: fail\('Region \$\{location\}/,
    );
    expect(profile).toContain("Regions that have them: ${join(gpuRegions[trainerWorkloadProfileType], ' ')}");
    // Only the branch taken is evaluated: gpuRegions has no key for the CPU profile.
    expect(variableValue(main, 'trainerRegionHasProfile')).toEqual(
      new Expression('trainerUsesGpu ? contains(gpuRegions[trainerWorkloadProfileType], location) : true'),
    );
  });

  it('is what training runs on in Azure: the app never starts a trainer process on a Flex instance', () => {
    const api = main.declarations.modules.find((module) => module.path === 'app/function.bicep')!;
    const settings = ((valueOf(api.body) as Record<string, BicepValue>)['params'] as Record<string, BicepValue>)[
      'appSettings'
    ] as Record<string, BicepValue>;
    expect(settings['TRAIN_LAUNCHER']).toBe('containerapps');
    expect(main.declarations.params.has('trainLauncher')).toBe(false);
  });

  it('builds from a CUDA base outside Docker Hub, the one main.bicep gives the hook', () => {
    const dockerfile = text('infra/trainer.Dockerfile');
    const base = variableValue(main, 'trainerBaseImage');
    expect(typeof base).toBe('string');
    expect(base).toMatch(/^nvcr\.io\//);
    expect(dockerfile).toContain(`ARG BASE_IMAGE=${base as string}\nFROM \${BASE_IMAGE}`);
    expect(dockerfile.match(/^FROM .*/gm)).toEqual(['FROM ${BASE_IMAGE}']);
    expect(
      textOf(
        main.declarations.outputs.get('TRAINER_BASE_IMAGE') &&
          valueOf(main.declarations.outputs.get('TRAINER_BASE_IMAGE')!),
      ),
    ).toBe('trainerBaseImage');
  });
});

describe('what azd uploads', () => {
  it('leaves node_modules out and builds on Azure, as azd requires of the two together', () => {
    const funcignore = text('.funcignore')
      .split('\n')
      .map((line) => line.trim());
    expect(funcignore).toContain('node_modules');
    expect(text('azure.yaml')).toMatch(/\n {2}api:\n(?: {4}.*\n)*? {4}remoteBuild: true\n/);
  });

  it('keeps what the remote build needs: the manifest, the lockfile, .npmrc, the sources and their tsconfigs', () => {
    const ignored = text('.funcignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    const build = JSON.parse(text('tsconfig.build.json')) as { include: string[] };
    const needed = ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json', 'host.json'];
    needed.push('web', 'web/tsconfig.json', ...build.include.filter((dir) => dir !== 'bench'));
    for (const file of needed) {
      const dropped = ignored.filter((pattern) => pattern.replace(/^\//, '') === file.split('/')[0]);
      expect({ file, dropped }).toEqual({ file, dropped: [] });
    }
  });
});

describe('parameters', () => {
  it('Flex Consumption: at least 40 instances at most, and its memory sizes', () => {
    expect(decoratorsOf(main, 'functionMaximumInstanceCount')).toEqual(
      expect.arrayContaining(['minValue(40)', 'maxValue(1000)']),
    );
    expect(decoratorsOf(main, 'functionInstanceMemoryMB')).toContain('allowed([512, 2048, 4096])');
  });

  it('a secure parameter reaches modules only as a secure parameter, never inside an object', () => {
    const leaks: string[] = [];
    let passed = 0;
    for (const [name, file] of files) {
      const secure = [...file.declarations.params.values()]
        .filter((param) => param.decorators.includes('secure()'))
        .map((param) => param.name);
      for (const module of file.declarations.modules) {
        const target = files.get(module.path);
        const params = (valueOf(module.body) as Record<string, BicepValue>)['params'];
        if (!target || !isPlainObject(params)) continue;
        for (const [param, value] of Object.entries(params)) {
          const source = JSON.stringify(value, (_key, inner: unknown) =>
            inner instanceof Expression ? inner.text : inner,
          );
          for (const secret of secure.filter((s) => new RegExp(`\\b${s}\\b`).test(source))) {
            if (
              value instanceof Expression &&
              value.text === secret &&
              decoratorsOf(target, param).includes('secure()')
            ) {
              passed += 1;
            } else {
              leaks.push(
                `${name}: ${secret} reaches ${module.path} through "${param}", which is not a secure parameter`,
              );
            }
          }
        }
      }
    }
    expect(leaks).toEqual([]);
    expect(passed).toBeGreaterThan(0);
  });
});
