import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileBlobPath } from '../../src/host/blobTrigger';
import { parseHostConfig, readHostConfig } from '../../src/host/hostConfig';
import { decodeBase64Strict } from '../../src/host/queueTrigger';
import { compileRoute } from '../../src/host/route';

describe('host.json', () => {
  it('reads the project host.json', () => {
    const config = readHostConfig(path.resolve(__dirname, '..', '..', 'host.json'));
    expect(config.queues).toMatchObject({ maxDequeueCount: 5, messageEncoding: 'base64', maxPollingIntervalInMs: 2000 });
    expect(config.functionTimeoutInMs).toBe(600_000);
    expect(JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'host.json'), 'utf8')).version).toBe('2.0');
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

describe('routes and blob paths', () => {
  it('matches route templates with parameters', () => {
    const route = compileRoute('api/datasets/{dataset}/images');
    expect(route.match('/api/datasets/shirts/images')).toEqual({ dataset: 'shirts' });
    expect(route.match('/api/datasets/shirts')).toBeUndefined();
    expect(route.match('/API/Datasets/a%20b/images/')).toEqual({ dataset: 'a b' });
    expect(compileRoute('api/items/{id:int}').match('/api/items/x')).toBeUndefined();
    expect(compileRoute('api/files/{*path}').match('/api/files/a/b/c')).toEqual({ path: 'a/b/c' });
  });

  it('matches blob paths, the last parameter taking the rest of the name', () => {
    const pattern = compileBlobPath('incoming/{dataset}/{label}/{name}');
    expect(pattern.container).toBe('incoming');
    expect(pattern.match('shirts/striped/a.jpg')).toEqual({ dataset: 'shirts', label: 'striped', name: 'a.jpg' });
    expect(pattern.match('shirts/striped/deeper/a.jpg')).toEqual({ dataset: 'shirts', label: 'striped', name: 'deeper/a.jpg' });
    expect(pattern.match('shirts/a.jpg')).toBeUndefined();
    // Line terminators are characters of a name like any other.
    expect(pattern.match('shirts/striped/a\nb.jpg')).toEqual({ dataset: 'shirts', label: 'striped', name: 'a\nb.jpg' });
    expect(compileBlobPath('incoming/{blobPath}').match('ds//x\u2028.jpg')).toEqual({ blobPath: 'ds//x\u2028.jpg' });
  });

  it('decodes base64 queue messages strictly', () => {
    expect(decodeBase64Strict(Buffer.from('{"a":1}').toString('base64'))).toBe('{"a":1}');
    expect(() => decodeBase64Strict('{"a":1}')).toThrow(/not valid base64/);
  });
});
