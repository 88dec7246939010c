// The Openverse provider through real fetch against the fake Openverse API on loopback.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { OpenverseProvider } from '../../src/collect/providers/openverse';
import { SearchProviderError } from '../../src/collect/types';
import { messageOf } from '../../src/errors';
import { closedOrigin, startRecordingServer } from '../support/fakeHttp';
import {
  type FakeOpenverse,
  type FakeOpenverseImage,
  OPENVERSE_SEARCH_PATH,
  type OpenverseLicense,
  startFakeOpenverse,
} from '../support/fakeOpenverse';
import { fakeJpeg, recordingRetry, searchRequest } from '../support/searchProviders';

const LICENCES: OpenverseLicense[] = ['by', 'by-sa', 'by-nd', 'by-nc', 'by-nc-sa', 'by-nc-nd', 'cc0', 'pdm'];

function catalogOf(
  n: number,
  overrides: (i: number) => Partial<FakeOpenverseImage> = () => ({}),
): FakeOpenverseImage[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `ov${i}`,
    bytes: fakeJpeg(`ov${i}`),
    width: 600 + i,
    height: 400,
    ...overrides(i),
  }));
}

let fake: FakeOpenverse;

beforeEach(async () => {
  fake = await startFakeOpenverse({ catalog: () => catalogOf(50) });
});

afterEach(async () => {
  await fake.close();
});

describe('OpenverseProvider paging and results', () => {
  it('pages until the count is reached and maps licence and attribution into the results', async () => {
    const provider = new OpenverseProvider({ endpoint: fake.endpoint, retry: recordingRetry().retry });

    const response = await provider.search(searchRequest('red apples', 45));

    expect(response.results).toHaveLength(45);
    expect(response.totalEstimatedMatches).toBe(50);
    const searches = fake.searchRequests();
    expect(searches.map((r) => [r.query['page'], r.query['page_size']])).toEqual([
      ['1', '20'],
      ['2', '20'],
      ['3', '20'],
    ]);
    expect(searches.every((r) => r.path === OPENVERSE_SEARCH_PATH && r.query['q'] === 'red apples')).toBe(true);
    expect(response.results[0]).toEqual({
      contentUrl: `${fake.endpoint}/images/ov0.jpg`,
      hostPageUrl: `${fake.endpoint}/landing/ov0`,
      thumbnailUrl: `${fake.endpoint}/v1/images/ov0/thumb/`,
      imageId: 'ov0',
      license: 'by 4.0',
      licenseUrl: 'https://creativecommons.org/licenses/by/4.0/',
      creator: 'Fake Photographer',
      attribution:
        '"Image ov0" by Fake Photographer is licensed under CC BY 4.0. To view a copy of this license, visit https://creativecommons.org/licenses/by/4.0/.',
      width: 600,
      height: 400,
      encodingFormat: 'jpg',
    });
    expect(response.results[44]!.imageId).toBe('ov44');
  });

  it('stops at the last page when fewer are available, and the images can be fetched from the fake', async () => {
    fake.setCatalog(() => catalogOf(25));
    const provider = new OpenverseProvider({ endpoint: fake.endpoint });

    const response = await provider.search(searchRequest('pears', 100));

    expect(response.results).toHaveLength(25);
    expect(fake.searchRequests().map((r) => r.query['page'])).toEqual(['1', '2']);
    const image = await fetch(response.results[7]!.contentUrl);
    expect(image.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await image.arrayBuffer())).toEqual(fakeJpeg('ov7'));
  });

  it('never asks beyond page 20, the deepest Openverse serves', async () => {
    fake.setCatalog(() => catalogOf(1000));
    const provider = new OpenverseProvider({ endpoint: fake.endpoint });

    const response = await provider.search(searchRequest('many', 500));

    expect(response.results).toHaveLength(400);
    expect(fake.searchRequests().map((r) => r.query['page'])).toEqual(
      Array.from({ length: 20 }, (_, i) => String(i + 1)),
    );
  });

  it('leaves out what Openverse does not know (null width, height, filetype)', async () => {
    fake.setCatalog(() => [
      { id: 'bare', bytes: Buffer.from('not an image'), width: null, height: null, filetype: null, license: 'cc0' },
      ...catalogOf(1),
    ]);
    const provider = new OpenverseProvider({ endpoint: fake.endpoint });

    const [bare] = (await provider.search(searchRequest('bare', 5))).results;

    expect(bare).toEqual({
      contentUrl: `${fake.endpoint}/images/bare.bin`,
      hostPageUrl: `${fake.endpoint}/landing/bare`,
      thumbnailUrl: `${fake.endpoint}/v1/images/bare/thumb/`,
      imageId: 'bare',
      license: 'cc0 1.0',
      licenseUrl: 'https://creativecommons.org/publicdomain/zero/1.0/',
      creator: 'Fake Photographer',
      attribution:
        '"Image bare" by Fake Photographer is marked with CC0 1.0. To view the terms, visit https://creativecommons.org/publicdomain/zero/1.0/.',
    });
  });

  it('uses the fetch it is given, with a User-Agent that names the project', async () => {
    const seen: string[] = [];
    const recordingFetch: typeof fetch = async (input, init) => {
      seen.push(input instanceof Request ? input.url : String(input));
      return fetch(input, init);
    };
    const provider = new OpenverseProvider({ endpoint: `${fake.endpoint}/`, fetch: recordingFetch });

    await provider.search(searchRequest('kites', 3));

    expect(seen).toEqual([`${fake.endpoint}/v1/images/?q=kites&page=1&page_size=20&mature=false`]);
    expect(fake.searchRequests()[0]!.headers['user-agent']).toMatch(/^image-classifier-functions\//);
  });
});

describe('OpenverseProvider filters', () => {
  beforeEach(() => {
    fake.setCatalog(() => catalogOf(40, (i) => ({ license: LICENCES[i % LICENCES.length]!, mature: i === 0 })));
  });

  it('asks for commercial-use licences, and gets no NC licence back', async () => {
    const provider = new OpenverseProvider({ endpoint: fake.endpoint });
    const response = await provider.search(searchRequest('boats', 40, { requireCommercialUse: true }));

    expect(fake.searchRequests()[0]!.query['license_type']).toBe('commercial');
    expect(response.results.length).toBeGreaterThan(0);
    expect(response.results.every((r) => !r.license!.includes('nc'))).toBe(true);
  });

  it('asks for modifiable licences, and gets no ND licence back', async () => {
    const provider = new OpenverseProvider({ endpoint: fake.endpoint });
    const response = await provider.search(searchRequest('boats', 40, { requireModification: true }));

    expect(fake.searchRequests()[0]!.query['license_type']).toBe('modification');
    expect(response.results.every((r) => !r.license!.includes('nd'))).toBe(true);
  });

  it('asks for both together, and the licence and attribution of what comes back say so', async () => {
    const provider = new OpenverseProvider({ endpoint: fake.endpoint });
    const response = await provider.search(
      searchRequest('boats', 40, { requireCommercialUse: true, requireModification: true }),
    );

    expect(fake.searchRequests()[0]!.query['license_type']).toBe('commercial,modification');
    expect(new Set(response.results.map((r) => r.license))).toEqual(
      new Set(['by 4.0', 'by-sa 4.0', 'cc0 1.0', 'pdm 1.0']),
    );
    const bySa = response.results.find((r) => r.license === 'by-sa 4.0')!;
    expect(bySa.licenseUrl).toBe('https://creativecommons.org/licenses/by-sa/4.0/');
    expect(bySa.attribution).toContain('is licensed under CC BY-SA 4.0');
  });

  it('leaves mature results out unless safe search is off', async () => {
    const provider = new OpenverseProvider({ endpoint: fake.endpoint });

    const safe = await provider.search(searchRequest('boats', 40, { safeSearch: 'Moderate' }));
    const off = await provider.search(searchRequest('boats', 40, { safeSearch: 'Off' }));

    expect(fake.searchRequests().map((r) => r.query['mature'])).toEqual(['false', 'false', 'true', 'true']);
    expect(safe.results.map((r) => r.imageId)).not.toContain('ov0');
    expect(off.results.map((r) => r.imageId)).toContain('ov0');
    expect(fake.searchRequests()[0]!.query['license_type']).toBeUndefined();
  });

  it('maps imageType Photo to the photograph category and applies minimum sizes itself', async () => {
    fake.setCatalog(() => [
      ...catalogOf(6, (i) => ({ category: 'photograph', width: i % 2 === 0 ? 300 : 900 })),
      { id: 'unknown-size', bytes: fakeJpeg('u'), width: null, height: null, category: 'photograph' },
      { id: 'drawing', bytes: fakeJpeg('d'), width: 900, height: 900, category: 'illustration' },
    ]);
    const provider = new OpenverseProvider({ endpoint: fake.endpoint });

    const response = await provider.search(searchRequest('boats', 10, { imageType: 'Photo', minWidth: 800 }));

    expect(fake.searchRequests()[0]!.query['category']).toBe('photograph');
    expect(fake.searchRequests()[0]!.query['minWidth']).toBeUndefined();
    expect(response.results.map((r) => r.imageId)).toEqual(['ov1', 'ov3', 'ov5', 'unknown-size']);
  });
});

describe('OpenverseProvider errors and retries', () => {
  it('explains the 401 Openverse gives an anonymous client asking for more than 20 a page', async () => {
    const provider = new OpenverseProvider({ endpoint: fake.endpoint, pageSize: 50, retry: recordingRetry().retry });

    const error = await provider.search(searchRequest('boats', 60)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SearchProviderError);
    expect((error as SearchProviderError).statusCode).toBe(401);
    expect(messageOf(error)).toContain('Ensure this value is less than or equal to 20.');
    expect(messageOf(error)).toContain('at most 20 results a page and this provider sent page_size=50; lower pageSize');
    expect(fake.searchRequests()).toHaveLength(1);
  });

  it('says the endpoint wants credentials on any other 401', async () => {
    fake.failNext(1, { kind: 'unauthorized' });
    const provider = new OpenverseProvider({ endpoint: fake.endpoint, retry: recordingRetry().retry });
    const error = await provider.search(searchRequest('boats', 5)).catch((e: unknown) => e);
    expect((error as SearchProviderError).statusCode).toBe(401);
    expect(messageOf(error)).toContain('OPENVERSE_ENDPOINT');
    expect(messageOf(error)).toContain('Invalid token.');
  });

  it('waits as long as Retry-After says on 429, then succeeds', async () => {
    fake.failNext(1, { kind: 'throttle', retryAfterSeconds: 1 });
    const provider = new OpenverseProvider({
      endpoint: fake.endpoint,
      retry: { maxRetries: 2, baseDelayInMs: 10, maxDelayInMs: 2_000 },
    });

    const response = await provider.search(searchRequest('boats', 5));

    expect(response.results).toHaveLength(5);
    const [first, second] = fake.searchRequests();
    const gap = second!.receivedAt - first!.receivedAt;
    expect(gap).toBeGreaterThanOrEqual(990);
    expect(gap).toBeLessThan(2_000);
  });

  it('backs off exponentially on 429 without Retry-After and on 5xx', async () => {
    fake.failNext(1, { kind: 'throttle' });
    fake.failNext(1, { kind: 'server-error', status: 502 });
    fake.failNext(1, { kind: 'throttle', retryAfterSeconds: 3 });
    const { retry, waits } = recordingRetry({ random: () => 0 });
    const provider = new OpenverseProvider({ endpoint: fake.endpoint, retry });

    const response = await provider.search(searchRequest('boats', 5));

    expect(response.results).toHaveLength(5);
    expect(fake.searchRequests()).toHaveLength(4);
    // Equal jitter at random=0: half of 100, of 200; then Retry-After's 3 s as given.
    expect(waits).toEqual([50, 100, 3_000]);
  });

  it('gives up on persistent 5xx with an error that says how many tries', async () => {
    fake.failNext(10, { kind: 'server-error', status: 503 });
    const { retry, waits } = recordingRetry({ maxRetries: 2 });
    const provider = new OpenverseProvider({ endpoint: fake.endpoint, retry });

    const error = await provider.search(searchRequest('boats', 5)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SearchProviderError);
    expect((error as SearchProviderError).statusCode).toBe(503);
    expect(messageOf(error)).toContain('gave up after 3 tries');
    expect(messageOf(error)).toContain('HTTP 503: Server Error (500)');
    expect(fake.searchRequests()).toHaveLength(3);
    expect(waits).toEqual([100, 200]);
  });

  it('retries a request that timed out', async () => {
    fake.failNext(1, { kind: 'hang' });
    const { retry, waits } = recordingRetry();
    const provider = new OpenverseProvider({ endpoint: fake.endpoint, retry, timeoutInMs: 200 });

    expect((await provider.search(searchRequest('boats', 5))).results).toHaveLength(5);
    expect(fake.searchRequests()).toHaveLength(2);
    expect(waits).toEqual([100]);

    fake.failNext(1, { kind: 'hang' });
    const impatient = new OpenverseProvider({
      endpoint: fake.endpoint,
      retry: recordingRetry({ maxRetries: 0 }).retry,
      timeoutInMs: 200,
    });
    await expect(impatient.search(searchRequest('boats', 5))).rejects.toThrow(
      /gave up after 1 try \(last answer: no answer within 200 ms\)/,
    );
  });

  it('retries a dropped connection', async () => {
    fake.failNext(1, { kind: 'reset' });
    const { retry, waits } = recordingRetry();
    const provider = new OpenverseProvider({ endpoint: fake.endpoint, retry });

    expect((await provider.search(searchRequest('boats', 5))).results).toHaveLength(5);
    expect(waits).toEqual([100]);
  });

  it('says OPENVERSE_ENDPOINT is wrong when the path is unknown there or the answer is not Openverse’s', async () => {
    const other = await startRecordingServer((req, res) => {
      const body = req.url?.startsWith('/api/') ? '{"items":[]}' : '{"message":"no such route"}';
      res.writeHead(req.url?.startsWith('/api/') ? 200 : 404, { 'Content-Type': 'application/json' });
      res.end(body);
    });
    const { origin } = other;
    try {
      const notFound = await new OpenverseProvider({ endpoint: origin })
        .search(searchRequest('boats', 5))
        .catch((e: unknown) => e);
      expect((notFound as SearchProviderError).statusCode).toBe(404);
      expect(messageOf(notFound)).toContain(
        `answered 404 for ${origin}/v1/images/: OPENVERSE_ENDPOINT (${origin}) is wrong`,
      );

      const wrongShape = await new OpenverseProvider({ endpoint: `${origin}/api` })
        .search(searchRequest('boats', 5))
        .catch((e: unknown) => e);
      expect(wrongShape).toBeInstanceOf(SearchProviderError);
      expect(messageOf(wrongShape)).toMatch(
        /OPENVERSE_ENDPOINT \(.*\/api\) is probably wrong: the answer is not an Openverse image search: result_count/,
      );
    } finally {
      await other.close();
    }
  });

  it('says it could not reach the endpoint when nothing listens there', async () => {
    const error = await new OpenverseProvider({ endpoint: await closedOrigin(), retry: recordingRetry().retry })
      .search(searchRequest('boats', 5))
      .catch((e: unknown) => e);

    expect(messageOf(error)).toMatch(/Could not reach OPENVERSE_ENDPOINT http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });

  it('refuses a malformed endpoint up front, naming the setting', () => {
    expect(() => new OpenverseProvider({ endpoint: 'api.openverse.org' })).toThrow(/OPENVERSE_ENDPOINT/);
    expect(() => new OpenverseProvider({ endpoint: fake.endpoint, pageSize: 0 })).toThrow(RangeError);
  });

  it('rejects at once when the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort();
    const provider = new OpenverseProvider({ endpoint: fake.endpoint, retry: recordingRetry().retry });
    await expect(provider.search({ ...searchRequest('boats', 5), signal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(fake.searchRequests()).toHaveLength(0);
  });
});
