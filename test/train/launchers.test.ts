// Launchers: a local child process, and a Container Apps job execution started through the real ARM SDK
// against a fake Resource Manager that checks what the SDK sends.
import * as https from 'node:https';

import type { AccessToken, TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadSettings } from '../../src/config';
import { ProgrammingError } from '../../src/errors';
import type { JobStore } from '../../src/train/jobs';
import {
  ContainerAppsLauncher,
  containerAppsOptions,
  createLauncher,
  LAUNCHER_NAMES,
  type LaunchRequest,
  LocalLauncher,
} from '../../src/train/launchers';
import { type FakeArm, startFakeArm } from '../support/fakeArm';
import { waitFor } from '../support/waitFor';

const request: LaunchRequest = { dataset: 'clothes', jobId: 'job-42' };

describe('LocalLauncher', () => {
  it('runs the trainer with the job in its environment and reports its exit', async () => {
    const exits: { code: number | null; stderrTail: string }[] = [];
    let exited: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (exited = resolve));
    const launcher = new LocalLauncher({
      command: [
        process.execPath,
        '-e',
        'console.error(`training ${process.env.TRAIN_DATASET}/${process.env.TRAIN_JOB_ID}`); ' +
          "process.stdout.write('stage: loading\\nstage: fea'); process.stdout.write('tures\\nno newline');" +
          'process.exitCode = 3',
      ],
      onExit: (_request, exit) => {
        exits.push(exit);
        exited();
      },
      // The trainer's output comes a line at a time to the sink (the console by default), not to this process's fds.
      output: (line, stream) => lines.push(`${stream}: ${line}`),
    });
    const lines: string[] = [];
    const launched = await launcher.launch(request);
    expect(launched.executionName).toMatch(/^pid-\d+$/);
    await done;
    expect(exits[0]).toMatchObject({ code: 3, stderrTail: expect.stringContaining('training clothes/job-42') });
    await waitFor('the last line of output', async () => (lines.length === 4 ? true : undefined), 10_000);
    expect(lines.filter((line) => line.startsWith('stdout'))).toEqual([
      'stdout: stage: loading',
      'stdout: stage: features',
      'stdout: no newline',
    ]);
    expect(lines).toContain('stderr: training clothes/job-42');
  });

  it('says so when the trainer cannot start', async () => {
    const launcher = new LocalLauncher({ command: ['/no/such/trainer'] });
    await expect(launcher.launch(request)).rejects.toThrow(/the trainer could not start/);
  });
});

describe('ContainerAppsLauncher', () => {
  let arm: FakeArm;
  const credential: TokenCredential = {
    getToken: async (): Promise<AccessToken> => ({
      token: 'fake-arm-token',
      expiresOnTimestamp: Date.now() + 3600_000,
    }),
  };
  let launcher: ContainerAppsLauncher;

  beforeAll(async () => {
    arm = await startFakeArm();
    launcher = new ContainerAppsLauncher({
      subscriptionId: '00000000-0000-0000-0000-000000000001',
      resourceGroup: 'rg-icf',
      jobName: 'icf-trainer',
      containerName: 'trainer',
      image: 'icfregistry.azurecr.io/trainer:1',
      environment: { ICF_BACKBONE: 'resnet50-keras' },
      secretEnvironment: { AzureWebJobsStorage: 'storage-connection' },
      credential,
      clientOptions: { endpoint: arm.endpoint, agent: new https.Agent({ ca: arm.ca }) },
    });
  });
  afterAll(async () => {
    await arm.close();
  });

  it("starts an execution from the job's own template with the training job laid over it, and returns its name", async () => {
    arm.setJobTemplate({
      containers: [
        {
          name: 'trainer',
          image: 'icfregistry.azurecr.io/icf-trainer:abc123',
          command: ['node', 'dist/src/train/main.js'],
          resources: { cpu: 8, memory: '56Gi', ephemeralStorage: '8Gi' },
          env: [
            { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' },
            { name: 'ICF_BACKBONE', value: 'from-the-job' },
          ],
          volumeMounts: [{ volumeName: 'cache', mountPath: '/cache' }],
        },
      ],
    });
    const launched = await launcher.launch(request);
    expect(launched.executionName).toBe('trainer-job-exec-1');
    const start = arm.requests.find((r) => r.method === 'POST')!;
    expect(start.path).toBe(
      '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-icf/providers/Microsoft.App/jobs/icf-trainer/start',
    );
    expect(start.query['api-version']).toMatch(/^\d{4}-\d{2}-\d{2}/);
    expect(start.authorization).toBe('Bearer fake-arm-token');
    // The start template replaces the job's containers: the job's CPU, memory, command and environment are carried
    // over (the read-only ephemeralStorage and the volume mounts, which an execution cannot carry, are not).
    expect(start.body).toEqual({
      containers: [
        {
          name: 'trainer',
          image: 'icfregistry.azurecr.io/trainer:1',
          command: ['node', 'dist/src/train/main.js'],
          resources: { cpu: 8, memory: '56Gi' },
          env: [
            { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' },
            { name: 'ICF_BACKBONE', value: 'resnet50-keras' },
            { name: 'TRAIN_DATASET', value: 'clothes' },
            { name: 'TRAIN_JOB_ID', value: 'job-42' },
            { name: 'AzureWebJobsStorage', secretRef: 'storage-connection' },
          ],
        },
      ],
    });
    // The launch does not poll the operation's location-level result, which the job-scoped role cannot read.
    expect(arm.requests.some((r) => r.path.includes('/containerappsjoboperationresults/'))).toBe(false);
  });

  it("uses the job's image when none is configured, and names a missing container", async () => {
    const fromJob = new ContainerAppsLauncher({
      subscriptionId: '00000000-0000-0000-0000-000000000001',
      resourceGroup: 'rg-icf',
      jobName: 'icf-trainer',
      containerName: 'trainer',
      credential,
      clientOptions: { endpoint: arm.endpoint, agent: new https.Agent({ ca: arm.ca }) },
    });
    arm.setJobTemplate({ containers: [{ name: 'trainer', image: 'icfregistry.azurecr.io/icf-trainer:def456' }] });
    await fromJob.launch(request);
    const start = arm.requests.filter((r) => r.method === 'POST').at(-1)!;
    expect(start.body).toMatchObject({
      containers: [{ name: 'trainer', image: 'icfregistry.azurecr.io/icf-trainer:def456' }],
    });
    arm.setJobTemplate({ containers: [{ name: 'other', image: 'x' }] });
    await expect(fromJob.launch(request)).rejects.toThrow(/has no container named "trainer".*it has "other"/);
    arm.setJobTemplate({ containers: [{ name: 'trainer', image: 'icfregistry.azurecr.io/icf-trainer:def456' }] });
  });

  it("reads an execution's state: running, ended, or failed", async () => {
    expect(await launcher.executionState('trainer-job-exec-1')).toBe('running');
    arm.setExecutionStatus('trainer-job-exec-1', 'Failed');
    expect(await launcher.executionState('trainer-job-exec-1')).toBe('failed');
    arm.setExecutionStatus('trainer-job-exec-1', 'Succeeded');
    expect(await launcher.executionState('trainer-job-exec-1')).toBe('ended');
    expect(arm.requests.at(-1)).toMatchObject({
      method: 'GET',
      path: expect.stringMatching(/\/jobs\/icf-trainer\/executions\/trainer-job-exec-1$/),
    });
  });

  it('surfaces ARM errors', async () => {
    arm.failNextStart(
      403,
      'AuthorizationFailed',
      'The client does not have authorization to perform action Microsoft.App/jobs/start/action',
    );
    await expect(launcher.launch(request)).rejects.toThrow(/AuthorizationFailed|authorization/);
  });

  it('refuses incomplete options, naming the field, as a bug: the settings name a missing one first', () => {
    const incomplete = () =>
      new ContainerAppsLauncher({
        subscriptionId: 's',
        resourceGroup: '',
        jobName: 'j',
        containerName: 'c',
        credential,
      });
    expect(incomplete).toThrow(ProgrammingError);
    expect(incomplete).toThrow(/resourceGroup is required/);
  });
});

describe('the launcher registry', () => {
  const jobs = {} as JobStore;
  it('makes the launcher TRAIN_LAUNCHER names, from its settings', () => {
    expect(LAUNCHER_NAMES).toEqual(['local', 'containerapps']);
    const local = createLauncher({ settings: loadSettings({ AzureWebJobsStorage: 'x' }), appSettings: {}, jobs });
    expect(local).toBeInstanceOf(LocalLauncher);
    const settings = loadSettings({
      AzureWebJobsStorage: 'x',
      TRAIN_LAUNCHER: 'containerapps',
      TRAIN_CONTAINERAPPS_SUBSCRIPTION_ID: 's',
      TRAIN_CONTAINERAPPS_RESOURCE_GROUP: 'rg',
      TRAIN_CONTAINERAPPS_JOB_NAME: 'j',
      TRAIN_CONTAINERAPPS_IMAGE: 'i',
    });
    expect(createLauncher({ settings, appSettings: {}, jobs })).toMatchObject({ name: 'containerapps' });
  });

  it('gives a keyless trainer job the service URIs and the client id, and a keyed one the secret', () => {
    const job = {
      TRAIN_LAUNCHER: 'containerapps',
      TRAIN_CONTAINERAPPS_SUBSCRIPTION_ID: 's',
      TRAIN_CONTAINERAPPS_RESOURCE_GROUP: 'rg',
      TRAIN_CONTAINERAPPS_JOB_NAME: 'j',
      TRAIN_CONTAINERAPPS_IMAGE: 'i',
    };
    const keyless = containerAppsOptions(
      loadSettings({
        ...job,
        AzureWebJobsStorage__accountName: 'icfdata',
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__clientId: 'client-1',
      }),
    );
    expect(keyless).toEqual({
      subscriptionId: 's',
      resourceGroup: 'rg',
      jobName: 'j',
      containerName: 'trainer',
      image: 'i',
      environment: {
        TRAIN_EXECUTION_PROVIDERS: 'cpu',
        AzureWebJobsStorage__blobServiceUri: 'https://icfdata.blob.core.windows.net',
        AzureWebJobsStorage__queueServiceUri: 'https://icfdata.queue.core.windows.net',
        AzureWebJobsStorage__tableServiceUri: 'https://icfdata.table.core.windows.net',
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__clientId: 'client-1',
        AZURE_CLIENT_ID: 'client-1',
      },
    });
    const keyed = containerAppsOptions(loadSettings({ ...job, AzureWebJobsStorage: 'x' }));
    expect(keyed.secretEnvironment).toEqual({ AzureWebJobsStorage: 'storage-connection' });
    expect(keyed.environment).toEqual({ TRAIN_EXECUTION_PROVIDERS: 'cpu' });
  });

  it('is where the settings take the names from', () => {
    expect(() => loadSettings({ AzureWebJobsStorage: 'x', TRAIN_LAUNCHER: 'kubernetes' })).toThrow(
      /TRAIN_LAUNCHER: must be local or containerapps/,
    );
  });
});
