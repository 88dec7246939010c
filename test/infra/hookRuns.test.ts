// The POSIX azd hooks run for real here, against a fake `az` on PATH that records each call and answers as the Azure
// CLI would (its exit codes and --output tsv), failing where a first run on Azure fails: a system key not written
// yet, an Event Grid handshake before the app's host is up. PowerShell is not installed here: the .ps1 twins are
// only cross-checked as text (crossCheck.test.ts, and the last test below).
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { infraDir, repoRoot } from './bicep';

const SUBSCRIPTION = '11111111-2222-3333-4444-555555555555';
const REGISTRY_ENDPOINT = 'crtoken.azurecr.io';

/** What each fake `az` call answers, by the words it starts with: fail the first N calls, then print this. */
interface FakeAnswer {
  command: string;
  failFirst?: number;
  stdout?: string;
}

const FAKE_AZ = `#!/bin/sh
# Records the call, then answers from $FAKE_AZ_DIR/answers (lines: "<command words>|<fail first N>|<stdout>", the
# stdout with \\n for its line breaks).
dir="$FAKE_AZ_DIR"
# The same script answers as azd (calls recorded as "azd ...").
[ "$(basename "$0")" = azd ] && set -- azd "$@"
printf '%s\\n' "$*" >>"$dir/calls"
while IFS='|' read -r words fail out; do
  case "$* " in
    "$words "*)
      count_file="$dir/count-$(printf '%s' "$words" | tr ' ' '_')"
      count=$(cat "$count_file" 2>/dev/null || echo 0)
      count=$((count + 1))
      echo "$count" >"$count_file"
      if [ "$count" -le "$fail" ]; then echo "ERROR: $words is not ready (fake failure $count)" >&2; exit 1; fi
      [ -n "$out" ] && printf '%b\\n' "$out"
      exit 0
      ;;
  esac
done <"$dir/answers"
echo "ERROR: the fake az has no answer for: $*" >&2
exit 2
`;

let fakeDir: string;

beforeEach(async () => {
  fakeDir = await mkdtemp(path.join(os.tmpdir(), 'fake-az-'));
  await writeFile(path.join(fakeDir, 'az'), FAKE_AZ);
  await chmod(path.join(fakeDir, 'az'), 0o755);
  await symlink(path.join(fakeDir, 'az'), path.join(fakeDir, 'azd'));
  await writeFile(path.join(fakeDir, 'calls'), '');
});
afterEach(async () => {
  await rm(fakeDir, { recursive: true, force: true });
});

async function runHook(
  hook: string,
  answers: FakeAnswer[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string; calls: string[] }> {
  await writeFile(
    path.join(fakeDir, 'answers'),
    answers.map((a) => `${a.command}|${a.failFirst ?? 0}|${(a.stdout ?? '').replaceAll('\n', '\\n')}`).join('\n') +
      '\n',
  );
  let result: { code: number; stdout: string; stderr: string };
  try {
    const { stdout, stderr } = await promisify(execFile)('sh', [path.join(infraDir, 'hooks', hook)], {
      cwd: repoRoot,
      env: { PATH: `${fakeDir}:${process.env['PATH']}`, FAKE_AZ_DIR: fakeDir, HOOK_RETRY_DELAY_S: '0', ...env },
    });
    result = { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    result = { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
  const calls = (await readFile(path.join(fakeDir, 'calls'), 'utf8')).split('\n').filter(Boolean);
  return { ...result, calls };
}

const deployEnv = {
  AZURE_SUBSCRIPTION_ID: SUBSCRIPTION,
  AZURE_RESOURCE_GROUP: 'rg-icf',
  AZURE_FUNCTION_APP_NAME: 'func-token',
  EVENT_GRID_SYSTEM_TOPIC_NAME: 'evgt-storage-token',
  INGEST_FUNCTION_NAME: 'ingest',
  INCOMING_CONTAINER_NAME: 'incoming',
  AZURE_CONTAINER_REGISTRY_NAME: 'crtoken',
  AZURE_CONTAINER_REGISTRY_ENDPOINT: REGISTRY_ENDPOINT,
  TRAINER_JOB_NAME: 'caj-trainer-token',
  TRAINER_CONTAINER_NAME: 'trainer',
  TRAINER_IMAGE_NAME: 'icf-trainer',
  TRAINER_BASE_IMAGE: 'nvcr.io/nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04',
};

/** The content tag the hook computes, from the same library. */
async function trainerImageTag(): Promise<string> {
  const { stdout } = await promisify(execFile)('sh', ['-c', '. ./infra/hooks/lib.sh && trainer_image_tag'], {
    cwd: repoRoot,
  });
  return stdout.trim();
}

/** Every az call names azd's subscription, except `az extension`, which has no subscription. */
function expectSubscriptionOnEveryCall(calls: string[]): void {
  expect(calls.length).toBeGreaterThan(0);
  for (const call of calls.filter((c) => !c.startsWith('extension ') && !c.startsWith('azd '))) {
    expect({ call, subscription: call.includes(`--subscription ${SUBSCRIPTION}`) }).toEqual({
      call,
      subscription: true,
    });
  }
}

describe('postdeploy.sh', () => {
  it('waits for the key, retries the subscription, imports the base, builds the image by content and updates the job', async () => {
    const tag = await trainerImageTag();
    const run = await runHook(
      'postdeploy.sh',
      [
        // The host writes the key a little after the deploy: two reads answer false.
        { command: 'functionapp keys list', stdout: 'true', failFirst: 2 },
        // Event Grid's validation handshake fails while the app's host is starting.
        { command: 'deployment group create', failFirst: 1 },
        { command: 'acr repository show-tags', stdout: 'old-tag' },
        { command: 'acr import' },
        { command: 'acr build' },
        { command: 'extension add' },
        { command: 'containerapp job show', stdout: 'mcr.microsoft.com/k8se/quickstart-jobs:latest' },
        { command: 'containerapp job update' },
        { command: 'azd env set' },
      ],
      deployEnv,
    );
    expect(run.stderr).toContain('(try 1 of 8)');
    expect(run.code).toBe(0);
    expectSubscriptionOnEveryCall(run.calls);
    expect(run.calls.filter((c) => c.startsWith('deployment group create'))).toHaveLength(2);
    expect(run.calls).toContainEqual(
      expect.stringMatching(
        /^acr import --name crtoken .*--source nvcr\.io\/nvidia\/cuda:12\.8\.1-cudnn-runtime-ubuntu24\.04 --image base\/nvidia\/cuda:12\.8\.1-cudnn-runtime-ubuntu24\.04/,
      ),
    );
    const build = run.calls.find((c) => c.startsWith('acr build'))!;
    expect(build).toContain(`--image icf-trainer:${tag}`);
    expect(build).toContain(
      `--build-arg BASE_IMAGE=${REGISTRY_ENDPOINT}/base/nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04`,
    );
    expect(run.calls).toContainEqual(expect.stringContaining(`--image ${REGISTRY_ENDPOINT}/icf-trainer:${tag}`));
    expect(run.stdout).toContain(`now runs ${REGISTRY_ENDPOINT}/icf-trainer:${tag}`);
    // Recorded for main.bicep's trainerImage, so that a later `azd provision` keeps it.
    expect(run.calls.at(-1)).toBe(`azd env set TRAINER_IMAGE ${REGISTRY_ENDPOINT}/icf-trainer:${tag}`);
  });

  it('builds nothing and updates nothing when the image of these inputs exists and the job runs it', async () => {
    const tag = await trainerImageTag();
    const run = await runHook(
      'postdeploy.sh',
      [
        { command: 'functionapp keys list', stdout: 'true' },
        { command: 'deployment group create' },
        { command: 'acr repository show-tags', stdout: `12.8.1-cudnn-runtime-ubuntu24.04\n${tag}` },
        { command: 'extension add' },
        { command: 'containerapp job show', stdout: `${REGISTRY_ENDPOINT}/icf-trainer:${tag}` },
        { command: 'azd env set' },
      ],
      deployEnv,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.calls.filter((c) => /^(acr build|acr import|containerapp job update)/.test(c))).toEqual([]);
    expect(run.calls.at(-1)).toBe(`azd env set TRAINER_IMAGE ${REGISTRY_ENDPOINT}/icf-trainer:${tag}`);
    expect(run.stdout).toContain('is built already');
    expectSubscriptionOnEveryCall(run.calls);
  });

  it('gives up with a message that says why when the key never comes', async () => {
    const run = await runHook('postdeploy.sh', [{ command: 'functionapp keys list', stdout: 'false' }], deployEnv);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('failed 8 times; giving up');
    expect(run.stderr).toContain("is the ingest blob trigger deployed with source 'EventGrid'?");
    expect(run.calls.filter((c) => c.startsWith('functionapp keys list'))).toHaveLength(8);
  });

  it('refuses to run without the subscription azd signed in to', async () => {
    const { AZURE_SUBSCRIPTION_ID: _, ...withoutSubscription } = deployEnv;
    const run = await runHook('postdeploy.sh', [], withoutSubscription);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/AZURE_SUBSCRIPTION_ID: is not set/);
    expect(run.calls).toEqual([]);
  });
});

describe('preprovision.sh', () => {
  const gpuRegions = async () =>
    JSON.parse(await readFile(path.join(infraDir, 'gpuRegions.json'), 'utf8')) as Record<string, string[]>;

  it('lets a CPU trainer deploy anywhere', async () => {
    const run = await runHook('preprovision.sh', [], {
      AZURE_SUBSCRIPTION_ID: SUBSCRIPTION,
      AZURE_LOCATION: 'northeurope',
      TRAINER_WORKLOAD_PROFILE_TYPE: 'Consumption',
    });
    expect(run.code).toBe(0);
  });

  it('refuses a GPU profile where there is none, naming the regions that have it', async () => {
    const regions = await gpuRegions();
    for (const [profile, where] of Object.entries(regions)) {
      expect(where.length).toBeGreaterThan(0);
      const refused = await runHook('preprovision.sh', [], {
        AZURE_SUBSCRIPTION_ID: SUBSCRIPTION,
        AZURE_LOCATION: 'northeurope',
        TRAINER_WORKLOAD_PROFILE_TYPE: profile,
      });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`Region 'northeurope' has no serverless GPUs of type ${profile}`);
      expect(refused.stderr).toContain(`Regions that have them: ${where.join(' ')}.`);
      const accepted = await runHook('preprovision.sh', [], {
        AZURE_SUBSCRIPTION_ID: SUBSCRIPTION,
        AZURE_LOCATION: where[0]!,
        TRAINER_WORKLOAD_PROFILE_TYPE: profile,
      });
      expect(accepted.code).toBe(0);
    }
  });

  it('refuses an unknown profile, naming the ones there are', async () => {
    const run = await runHook('preprovision.sh', [], {
      AZURE_SUBSCRIPTION_ID: SUBSCRIPTION,
      AZURE_LOCATION: 'westus3',
      TRAINER_WORKLOAD_PROFILE_TYPE: 'GPU',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('use Consumption (CPU), Consumption-GPU-NC8as-T4 or Consumption-GPU-NC24-A100');
  });
});

describe('the PowerShell twins', () => {
  it('name the subscription on every az call that takes one, and retry what the POSIX hooks retry', async () => {
    for (const hook of ['postdeploy', 'preprovision']) {
      const ps1 = await readFile(path.join(infraDir, 'hooks', `${hook}.ps1`), 'utf8');
      const sh = await readFile(path.join(infraDir, 'hooks', `${hook}.sh`), 'utf8');
      // An az call runs to the end of its line, or on over backtick (PowerShell) or backslash (sh) continuations.
      const calls = (text: string, continuation: string) =>
        [
          ...text.matchAll(
            new RegExp(`(?:^|\\$\\(|= )\\s*az ([a-z]+(?: [a-z]+)*)((?:[^\\n]*\\${continuation}\\n)*[^\\n]*)`, 'gm'),
          ),
        ].map((m) => ({ command: m[1]!, text: m[0] }));
      const psCalls = calls(ps1, '`');
      const shCalls = calls(sh, '\\');
      expect(psCalls.map((c) => c.command)).toEqual(shCalls.map((c) => c.command));
      for (const call of psCalls.filter((c) => !c.command.startsWith('extension'))) {
        expect(call.text).toContain('--subscription $subscription');
      }
      const retried = (text: string, pattern: RegExp) => [...text.matchAll(pattern)].map((m) => m[1]);
      expect(retried(ps1, /Invoke-WithRetry (\d+) /g)).toEqual(retried(sh, /retry (\d+) "/g));
    }
  });
});
