// Queue message bodies: what the app sends is what the queue trigger reads, in either host.json encoding.
import { describe, expect, it } from 'vitest';

import { appHostConfig } from '../../src/platform/hostConfig';
import { decodeBase64Strict, decodeQueueMessage, encodeQueueMessage } from '../../src/platform/queueMessages';

describe('queue messages', () => {
  it('decodes base64 queue messages strictly', () => {
    expect(decodeBase64Strict(Buffer.from('{"a":1}').toString('base64'))).toBe('{"a":1}');
    expect(() => decodeBase64Strict('{"a":1}')).toThrow(/not valid base64/);
  });

  it('encodes as the app host.json says, and decodes what it encoded', () => {
    const job = { dataset: 'tees', jobId: 'j1' };
    expect(appHostConfig().queues.messageEncoding).toBe('base64');
    expect(encodeQueueMessage(job)).toBe(Buffer.from(JSON.stringify(job)).toString('base64'));
    for (const encoding of ['base64', 'none'] as const) {
      expect(JSON.parse(decodeQueueMessage(encodeQueueMessage(job, encoding), encoding))).toEqual(job);
    }
    expect(encodeQueueMessage(job, 'none')).toBe('{"dataset":"tees","jobId":"j1"}');
  });
});
