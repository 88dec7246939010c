// host.json as the app and the local host read it: the project's own file, the Functions host's defaults, errors.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { appHostConfig, parseHostConfig, readHostConfig } from '../../src/platform/hostConfig';

describe('host.json', () => {
  it('reads the project host.json', () => {
    const config = readHostConfig(path.resolve(__dirname, '..', '..', 'host.json'));
    expect(config.queues).toMatchObject({
      maxDequeueCount: 5,
      messageEncoding: 'base64',
      maxPollingIntervalInMs: 2000,
    });
    expect(config.functionTimeoutInMs).toBe(600_000);
    expect(JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'host.json'), 'utf8')).version).toBe('2.0');
  });

  it('finds the app host.json from the platform module, once', () => {
    expect(appHostConfig()).toEqual(readHostConfig(path.resolve(__dirname, '..', '..', 'host.json')));
    expect(appHostConfig()).toBe(appHostConfig());
  });

  it('uses the Functions host defaults', () => {
    expect(parseHostConfig({ version: '2.0' }).queues).toEqual({
      maxPollingIntervalInMs: 60_000,
      visibilityTimeoutInMs: 0,
      batchSize: 16,
      newBatchThreshold: 8,
      maxDequeueCount: 5,
      messageEncoding: 'base64',
    });
  });

  it('names the bad field', () => {
    expect(() => parseHostConfig({ version: '2.0', extensions: { queues: { maxPollingInterval: '2s' } } })).toThrow(
      /extensions\.queues\.maxPollingInterval: must be a TimeSpan/,
    );
    expect(() => parseHostConfig({ version: '1.0' })).toThrow(/version/);
  });
});
