import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  loadCacheSettings,
  loadCliSettings,
  loadRegistrySettings,
  loadSettings,
  loadTrainerJobSettings,
  storageConnection,
  storageConnectionSettings,
} from '../src/config';
import { ConfigurationError } from '../src/errors';
import { cacheDir } from '../src/util/cacheDir';
import { projectRoot } from '../src/util/paths';

describe('loadSettings', () => {
  it('applies the defaults', () => {
    const settings = loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' });
    expect(settings).toEqual({
      storage: { kind: 'connection-string', connectionString: 'UseDevelopmentStorage=true' },
      ingest: {
        maxFileBytes: 52428800,
        maxPixels: 64000000,
        minSidePx: 64,
        maxAspectRatio: 8,
        decodePixelBudget: 128_000_000,
      },
      dedup: { nearDuplicateMaxBits: 24, splitGroupMaxBits: 48, maxRelativeDistance: 0.4, testFraction: 0.2 },
      collect: {
        schedule: '0 0 3 * * *',
        bing: { endpoint: 'https://api.cognitive.microsoft.com' },
        openverse: { endpoint: 'https://api.openverse.org' },
        queryTimeoutInMs: 300_000,
        download: {
          timeoutInMs: 20_000,
          maxBytes: 20_971_520,
          maxRedirects: 5,
          concurrency: 4,
          allowPrivateAddresses: false,
        },
      },
      http: { allowedOrigins: [] },
      serve: {
        modelRecheckInMs: 5000,
        batchWindowInMs: 0,
        batchMaxWaitInMs: 50,
        modelMemoryBudgetBytes: 1024 * 1024 * 1024,
        warmUp: '*',
      },
      train: { launcher: 'local', executionProviders: ['cpu'], heartbeatExpiryInMs: 180_000 },
      customVision: {},
    });
  });

  it('reads SERVE_WARM_UP as *, dataset names or none', () => {
    const warmUp = (value: string) => loadSettings({ AzureWebJobsStorage: 'x', SERVE_WARM_UP: value }).serve.warmUp;
    expect(warmUp('*')).toBe('*');
    expect(warmUp(' shoes, bottles ')).toEqual(['shoes', 'bottles']);
    expect(warmUp('none')).toEqual([]);
  });

  it('treats empty values as unset', () => {
    expect(loadSettings({ AzureWebJobsStorage: 'x', SPLIT_TEST_FRACTION: '' }).dedup.testFraction).toBe(0.2);
  });

  it.each([
    [{}, /AzureWebJobsStorage: is required/],
    [{ AzureWebJobsStorage: 'x', SPLIT_TEST_FRACTION: '0.9' }, /SPLIT_TEST_FRACTION/],
    [{ AzureWebJobsStorage: 'x', INGEST_MIN_SIDE_PX: 'ten' }, /INGEST_MIN_SIDE_PX/],
    [
      { AzureWebJobsStorage: 'x', HTTP_ALLOWED_ORIGINS: 'https://a.example/path' },
      /HTTP_ALLOWED_ORIGINS\.0: lists origins such as/,
    ],
    [{ AzureWebJobsStorage: 'x', SERVE_MODEL_MEMORY_MB: '0' }, /SERVE_MODEL_MEMORY_MB/],
    [
      { AzureWebJobsStorage: 'x', SERVE_WARM_UP: 'shoes,Bad_Name' },
      /SERVE_WARM_UP\.1: lists dataset names, or is \* or none: dataset name "Bad_Name"/,
    ],
    [{ AzureWebJobsStorage: 'x', SERVE_WARM_UP: '*,shoes' }, /SERVE_WARM_UP: \* and none stand alone/],
    [
      { AzureWebJobsStorage: 'x', DEDUP_NEAR_DUPLICATE_MAX_BITS: '40', SPLIT_GROUP_MAX_BITS: '30' },
      /SPLIT_GROUP_MAX_BITS \(30\) must be at least DEDUP_NEAR_DUPLICATE_MAX_BITS/,
    ],
    [{ AzureWebJobsStorage: 'x', COLLECT_SCHEDULE: '0 */5 * * *' }, /COLLECT_SCHEDULE: .*need six/],
    [{ AzureWebJobsStorage: 'x', BING_SEARCH_ENDPOINT: 'not a url' }, /BING_SEARCH_ENDPOINT: must be a URL/],
    [
      { AzureWebJobsStorage: 'x', COLLECT_ALLOW_PRIVATE_ADDRESSES: 'yes' },
      /COLLECT_ALLOW_PRIVATE_ADDRESSES: must be true or false/,
    ],
    [{ AzureWebJobsStorage: 'x', TRAIN_EXECUTION_PROVIDERS: 'cuda,tpu' }, /TRAIN_EXECUTION_PROVIDERS/],
    [
      { AzureWebJobsStorage: 'x', TRAIN_LAUNCHER: 'containerapps', TRAIN_CONTAINERAPPS_JOB_NAME: 'j' },
      /TRAIN_CONTAINERAPPS_SUBSCRIPTION_ID, TRAIN_CONTAINERAPPS_RESOURCE_GROUP must be set/,
    ],
  ])('names the bad setting: %j', (env, message) => {
    expect(() => loadSettings(env)).toThrow(ConfigurationError);
    expect(() => loadSettings(env)).toThrow(message);
  });
});

describe('the settings of the trainer process and the tools', () => {
  it('reads the trainer job, naming what is missing', () => {
    const job = { dataset: 'tees', jobId: 'j1' };
    expect(loadTrainerJobSettings({ TRAIN_DATASET: 'tees', TRAIN_JOB_ID: 'j1' })).toEqual(job);
    expect(() => loadTrainerJobSettings({ TRAIN_DATASET: 'tees' })).toThrow(ConfigurationError);
    const noJob = { TRAIN_DATASET: 'tees', TRAIN_JOB_ID: '' };
    expect(() => loadTrainerJobSettings(noJob)).toThrow(/^TRAIN_JOB_ID must be set/);
    expect(() => loadTrainerJobSettings({})).toThrow(/^TRAIN_DATASET and TRAIN_JOB_ID must be set/);
  });

  it('puts caches under ICF_CACHE_DIR, else the project .cache/', () => {
    const configured = loadCacheSettings({ ICF_CACHE_DIR: '/tmp/icf' });
    expect(cacheDir('backbones', configured)).toBe(path.join('/tmp/icf', 'backbones'));
    const unset = loadCacheSettings({ ICF_CACHE_DIR: '' });
    expect(cacheDir('features', unset)).toBe(path.join(projectRoot(), '.cache', 'features'));
  });

  it('validates the npm registry and the CLI settings, naming the setting', () => {
    expect(loadRegistrySettings({})).toEqual({ npmRegistry: undefined });
    const local = 'http://127.0.0.1:4873/';
    expect(loadRegistrySettings({ npm_config_registry: local }).npmRegistry).toBe(local);
    expect(() => loadRegistrySettings({ npm_config_registry: 'reg' })).toThrow(/npm_config_registry: must be a URL/);
    const cli = loadCliSettings({ AzureWebJobsStorage: 'cs', ICF_FUNCTION_KEY: 'k', ICF_URL: 'https://app.example' });
    expect(cli).toEqual({
      storage: { kind: 'connection-string', connectionString: 'cs' },
      functionKey: 'k',
      appUrl: 'https://app.example',
    });
    expect(() => loadCliSettings({ ICF_URL: 'localhost:7071' })).toThrow(/ICF_URL: must be an http\(s\) URL/);
  });
});

describe('storageConnection', () => {
  const clientId = '00000000-0000-4000-8000-000000000001';

  it('reads the identity-based form the Functions runtime reads, by account name or by service URIs', () => {
    expect(
      storageConnection(
        {
          AzureWebJobsStorage__accountName: 'icfdata',
          AzureWebJobsStorage__credential: 'managedidentity',
          AzureWebJobsStorage__clientId: clientId,
        },
        'AzureWebJobsStorage',
      ),
    ).toEqual({
      kind: 'identity',
      blobServiceUri: 'https://icfdata.blob.core.windows.net',
      queueServiceUri: 'https://icfdata.queue.core.windows.net',
      tableServiceUri: 'https://icfdata.table.core.windows.net',
      credential: 'managedidentity',
      clientId,
    });
    const byUri = {
      Storage__blobServiceUri: 'https://127.0.0.1:10000/devstoreaccount1/',
      Storage__queueServiceUri: 'https://127.0.0.1:10001/devstoreaccount1',
      Storage__tableServiceUri: 'https://127.0.0.1:10002/devstoreaccount1',
    };
    const connection = storageConnection(byUri, 'Storage');
    expect(connection).toEqual({
      kind: 'identity',
      blobServiceUri: 'https://127.0.0.1:10000/devstoreaccount1',
      queueServiceUri: 'https://127.0.0.1:10001/devstoreaccount1',
      tableServiceUri: 'https://127.0.0.1:10002/devstoreaccount1',
    });
    // What a trainer started by the app is given: the same connection, read back the same way.
    expect(storageConnection(storageConnectionSettings(connection, 'Storage'), 'Storage')).toEqual(connection);
    expect(
      loadSettings({
        ...byUri,
        AzureWebJobsStorage__blobServiceUri: byUri.Storage__blobServiceUri,
        AzureWebJobsStorage__queueServiceUri: byUri.Storage__queueServiceUri,
        AzureWebJobsStorage__tableServiceUri: byUri.Storage__tableServiceUri,
      }).storage,
    ).toEqual(connection);
  });

  it('gives the trainer the identity client id for @azure/identity, and no secret', () => {
    const settings = storageConnectionSettings({
      kind: 'identity',
      blobServiceUri: 'https://a.blob.core.windows.net',
      queueServiceUri: 'https://a.queue.core.windows.net',
      tableServiceUri: 'https://a.table.core.windows.net',
      credential: 'managedidentity',
      clientId,
    });
    expect(settings).toEqual({
      AzureWebJobsStorage__blobServiceUri: 'https://a.blob.core.windows.net',
      AzureWebJobsStorage__queueServiceUri: 'https://a.queue.core.windows.net',
      AzureWebJobsStorage__tableServiceUri: 'https://a.table.core.windows.net',
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: clientId,
      AZURE_CLIENT_ID: clientId,
    });
  });

  it('names the missing or bad piece', () => {
    expect(() => loadSettings({})).toThrow(
      /AzureWebJobsStorage: is required \(a storage connection string.* or AzureWebJobsStorage__accountName/,
    );
    expect(() => storageConnection({ S__blobServiceUri: 'https://a.blob.core.windows.net' }, 'S')).toThrow(
      /S__queueServiceUri is required with an identity-based connection \(or set S__accountName\)/,
    );
    expect(() => storageConnection({ S__accountName: 'Bad_Name' }, 'S')).toThrow(
      /S__accountName must be a storage account name/,
    );
    expect(() => storageConnection({ S__accountName: 'good', S__credential: 'key' }, 'S')).toThrow(
      /S__credential must be managedidentity/,
    );
    expect(() =>
      storageConnection({ S__accountName: 'good', S__blobServiceUri: 'http://a.blob.core.windows.net' }, 'S'),
    ).toThrow(/S__blobServiceUri must be an https:\/\/ URI/);
    expect(() => storageConnection({ S: 'UseDevelopmentStorage=true', S__accountName: 'good' }, 'S')).toThrow(
      /S holds a connection string and S__accountName an identity-based connection: set one or the other/,
    );
    // An empty setting is an unset one (the portal and local.settings.json produce them).
    expect(storageConnection({ S: 'UseDevelopmentStorage=true', S__accountName: '' }, 'S').kind).toBe(
      'connection-string',
    );
  });
});
