// Helpers shared by the search provider tests (bing, openverse): stand-in image bytes, a retry policy that
// records its waits, and search requests.
import type { RetryOptions } from '../../src/collect/providers/retry';
import type { SearchRequest } from '../../src/collect/types';

/** Bytes that start like a JPEG (enough for the fakes to call them jpeg) and differ per id. */
export function fakeJpeg(id: string): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(id)]);
}

/** Records the waits instead of sleeping; jitter pinned so delays are exact. */
export function recordingRetry(overrides: Partial<RetryOptions> = {}): { retry: RetryOptions; waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    retry: {
      maxRetries: 3,
      baseDelayInMs: 100,
      maxDelayInMs: 5_000,
      random: () => 1,
      sleep: async (ms) => {
        waits.push(ms);
      },
      ...overrides,
    },
  };
}

export function searchRequest(query: string, count: number, filters: SearchRequest['filters'] = {}): SearchRequest {
  return { query, count, filters };
}
