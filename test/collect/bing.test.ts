// The Bing provider through the real SDK (and ms-rest-js's HTTP stack) against the fake v7 service on loopback.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { BingImageSearchProvider } from '../../src/collect/providers/bing';
import { SearchProviderError } from '../../src/collect/types';
import { messageOf } from '../../src/errors';
import { BING_SEARCH_PATH, type FakeBing, type FakeImage, startFakeBing } from '../support/fakeBing';
import { closedOrigin, startRecordingServer } from '../support/fakeHttp';
import { fakeJpeg, recordingRetry, searchRequest } from '../support/searchProviders';

function catalogOf(n: number, prefix = 'img'): FakeImage[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    bytes: fakeJpeg(`${prefix}${i}`),
    width: 400 + i,
    height: 300,
  }));
}

let fake: FakeBing;

beforeEach(async () => {
  fake = await startFakeBing({ catalog: () => catalogOf(80) });
});

afterEach(async () => {
  await fake.close();
});

describe('BingImageSearchProvider paging', () => {
  it('pages with count and offset until the count is reached, through the SDK path and key header', async () => {
    const provider = new BingImageSearchProvider({
      endpoint: fake.endpoint,
      key: fake.key,
      pageSize: 35,
      retry: recordingRetry().retry,
    });

    const response = await provider.search(searchRequest('red apples', 50));

    expect(response.results).toHaveLength(50);
    expect(response.totalEstimatedMatches).toBe(80);
    const searches = fake.searchRequests();
    expect(searches.map((r) => [r.query['count'], r.query['offset']])).toEqual([
      ['35', '0'],
      ['15', '35'],
    ]);
    for (const r of searches) {
      expect(r.path).toBe(BING_SEARCH_PATH);
      expect(r.query['q']).toBe('red apples');
      expect(r.headers['ocp-apim-subscription-key']).toBe(fake.key);
      // A constant header the SDK adds: proof the request came through the SDK, not a hand-made fetch.
      expect(r.headers['x-bingapis-sdk']).toBe('true');
    }
    expect(response.results[0]).toEqual({
      contentUrl: `${fake.endpoint}/images/img0.jpg`,
      hostPageUrl: `${fake.endpoint}/pages/img0`,
      thumbnailUrl: `${fake.endpoint}/thumbnails/img0`,
      imageId: 'img0',
      encodingFormat: 'jpeg',
      width: 400,
      height: 300,
    });
    expect(response.results[49]!.imageId).toBe('img49');
  });

  it('stops when the service has no more, and the images it found can be fetched from the fake', async () => {
    fake.setCatalog(() => catalogOf(20));
    const provider = new BingImageSearchProvider({ endpoint: fake.endpoint, key: fake.key, pageSize: 35 });

    const response = await provider.search(searchRequest('pears', 50));

    expect(response.results.map((r) => r.imageId)).toEqual(catalogOf(20).map((i) => i.id));
    // The second page comes back empty, which ends the search.
    expect(fake.searchRequests().map((r) => [r.query['count'], r.query['offset']])).toEqual([
      ['35', '0'],
      ['30', '20'],
    ]);
    const image = await fetch(response.results[3]!.contentUrl);
    expect(image.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await image.arrayBuffer())).toEqual(fakeJpeg('img3'));
  });

  it('asks for 150 a page by default and nothing at all for a count of 0', async () => {
    fake.setCatalog(() => catalogOf(200));
    const provider = new BingImageSearchProvider({ endpoint: fake.endpoint, key: fake.key });

    expect((await provider.search(searchRequest('plums', 0))).results).toEqual([]);
    expect(fake.searchRequests()).toHaveLength(0);
    const response = await provider.search(searchRequest('plums', 160));
    expect(response.results).toHaveLength(160);
    expect(fake.searchRequests().map((r) => [r.query['count'], r.query['offset']])).toEqual([
      ['150', '0'],
      ['10', '150'],
    ]);
  });

  it('keeps one copy of an image that a later page repeats', async () => {
    const images = catalogOf(10);
    fake.setCatalog(() => [
      ...images,
      { ...images[2]!, id: 'again', contentUrl: `${fake.endpoint}/images/img2.jpg` },
      ...catalogOf(5, 'more'),
    ]);
    const provider = new BingImageSearchProvider({ endpoint: fake.endpoint, key: fake.key, pageSize: 8 });

    const response = await provider.search(searchRequest('figs', 15));

    expect(response.results).toHaveLength(15);
    expect(new Set(response.results.map((r) => r.contentUrl)).size).toBe(15);
    expect(response.results.map((r) => r.imageId)).not.toContain('again');
  });

  it('passes planted result URLs through untouched (guarding them is the downloader’s job)', async () => {
    fake.setCatalog(() => [
      {
        id: 'meta',
        bytes: fakeJpeg('meta'),
        width: 500,
        height: 500,
        contentUrl: 'http://169.254.169.254/latest/meta-data/',
      },
      { id: 'loop', bytes: fakeJpeg('loop'), width: 500, height: 500, contentUrl: 'http://127.0.0.1:1/secret.jpg' },
    ]);
    const provider = new BingImageSearchProvider({ endpoint: fake.endpoint, key: fake.key });

    const response = await provider.search(searchRequest('anything', 5));

    expect(response.results.map((r) => r.contentUrl)).toEqual([
      'http://169.254.169.254/latest/meta-data/',
      'http://127.0.0.1:1/secret.jpg',
    ]);
  });
});

describe('BingImageSearchProvider filters', () => {
  it('puts every filter on the wire under the v7 parameter names', async () => {
    const provider = new BingImageSearchProvider({ endpoint: fake.endpoint, key: fake.key });

    const response = await provider.search(
      searchRequest('cats', 10, {
        imageType: 'Photo',
        safeSearch: 'Strict',
        license: 'ShareCommercially',
        minWidth: 450,
        minHeight: 200,
        market: 'en-GB',
        freshness: 'Week',
      }),
    );

    const [sent] = fake.searchRequests();
    expect(sent!.query).toMatchObject({
      q: 'cats',
      imageType: 'Photo',
      safeSearch: 'Strict',
      license: 'ShareCommercially',
      minWidth: '450',
      minHeight: '200',
      mkt: 'en-GB',
      freshness: 'Week',
    });
    // The fake applies the size filters as Bing does: only images at least 450 wide come back.
    expect(response.results.every((r) => (r.width ?? 0) >= 450)).toBe(true);
    expect(response.results[0]!.imageId).toBe('img50');
  });

  it('leaves unset filters off the query string', async () => {
    const provider = new BingImageSearchProvider({ endpoint: fake.endpoint, key: fake.key });
    await provider.search(searchRequest('dogs', 3));
    expect(Object.keys(fake.searchRequests()[0]!.query).sort()).toEqual(['count', 'offset', 'q']);
  });

  it('reports a filter value the service rejects, naming the parameter', async () => {
    const provider = new BingImageSearchProvider({ endpoint: fake.endpoint, key: fake.key });
    const error = await provider.search(searchRequest('dogs', 3, { imageType: 'Bogus' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SearchProviderError);
    expect((error as SearchProviderError).statusCode).toBe(400);
    expect(messageOf(error)).toContain('rejected the request (HTTP 400: InvalidRequest/ParameterInvalidValue');
    expect(messageOf(error)).toContain("check the collection plan's filters");
    expect(messageOf(error)).toContain('parameter imageType=Bogus');
  });
});

describe('BingImageSearchProvider errors', () => {
  it('says BING_SEARCH_KEY is wrong for the endpoint on 401, without retrying', async () => {
    const provider = new BingImageSearchProvider({
      endpoint: fake.endpoint,
      key: 'not-the-key',
      retry: recordingRetry().retry,
    });

    const error = await provider.search(searchRequest('cats', 5)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SearchProviderError);
    expect((error as SearchProviderError).statusCode).toBe(401);
    expect(messageOf(error)).toMatch(/BING_SEARCH_KEY is wrong for the endpoint http:\/\/127\.0\.0\.1:\d+/);
    expect(messageOf(error)).toContain('InvalidAuthorization/AuthorizationMissing');
    expect(fake.searchRequests()).toHaveLength(1);
  });

  it('says the key is wrong (or out of quota) on 403', async () => {
    fake.failNext(1, { kind: 'forbidden' });
    const provider = new BingImageSearchProvider({
      endpoint: fake.endpoint,
      key: fake.key,
      retry: recordingRetry().retry,
    });
    const error = await provider.search(searchRequest('cats', 5)).catch((e: unknown) => e);
    expect((error as SearchProviderError).statusCode).toBe(403);
    expect(messageOf(error)).toContain('BING_SEARCH_KEY is wrong for the endpoint');
    expect(messageOf(error)).toContain('quota');
    expect(fake.searchRequests()).toHaveLength(1);
  });

  it('says BING_SEARCH_ENDPOINT is wrong on 404 and shows the URL the SDK built', async () => {
    // Some other web server: it knows nothing of /bing/v7.0 and answers 404 with a page, not JSON.
    const other = await startRecordingServer((_req, res) => {
      res.writeHead(404, { 'Content-Type': 'text/html' });
      res.end('<h1>Not Found</h1>');
    });
    const endpoint = other.origin;
    try {
      const provider = new BingImageSearchProvider({
        endpoint: `${endpoint}/`,
        key: fake.key,
        retry: recordingRetry().retry,
      });

      const error = await provider.search(searchRequest('cats', 5)).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(SearchProviderError);
      expect((error as SearchProviderError).statusCode).toBe(404);
      expect(messageOf(error)).toContain(`answered 404 for ${endpoint}/bing/v7.0/images/search:`);
      expect(messageOf(error)).toContain(`BING_SEARCH_ENDPOINT (${endpoint}) is wrong`);
    } finally {
      await other.close();
    }
  });

  it('refuses an endpoint with a path, which the SDK would drop its own path for', async () => {
    expect(() => new BingImageSearchProvider({ endpoint: `${fake.endpoint}/wrong`, key: fake.key })).toThrow(
      /BING_SEARCH_ENDPOINT must be only the scheme and host .* appends \/bing\/v7\.0\/images\/search/,
    );
  });

  it('says it could not reach the endpoint when nothing listens there', async () => {
    const provider = new BingImageSearchProvider({
      endpoint: await closedOrigin(),
      key: 'k',
      retry: recordingRetry().retry,
    });
    const error = await provider.search(searchRequest('cats', 5)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SearchProviderError);
    expect(messageOf(error)).toMatch(/Could not reach BING_SEARCH_ENDPOINT http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it('refuses a malformed endpoint or an empty key up front, naming the setting', () => {
    expect(() => new BingImageSearchProvider({ endpoint: 'api.bing.microsoft.com', key: 'k' })).toThrow(
      /BING_SEARCH_ENDPOINT/,
    );
    expect(() => new BingImageSearchProvider({ endpoint: fake.endpoint, key: ' ' })).toThrow(/BING_SEARCH_KEY/);
    expect(() => new BingImageSearchProvider({ endpoint: fake.endpoint, key: 'k', pageSize: 151 })).toThrow(RangeError);
  });

  it('rejects at once when the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort();
    const provider = new BingImageSearchProvider({ endpoint: fake.endpoint, key: fake.key });
    await expect(provider.search({ ...searchRequest('cats', 5), signal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });
});

describe('BingImageSearchProvider retries', () => {
  it('waits as long as Retry-After says on 429, then succeeds', async () => {
    fake.failNext(1, { kind: 'throttle', retryAfterSeconds: 1 });
    // The real sleep this time: the gap between the two requests shows Retry-After was honoured.
    const provider = new BingImageSearchProvider({
      endpoint: fake.endpoint,
      key: fake.key,
      retry: { maxRetries: 2, baseDelayInMs: 10, maxDelayInMs: 2_000 },
    });

    const response = await provider.search(searchRequest('cats', 5));

    expect(response.results).toHaveLength(5);
    const [first, second] = fake.searchRequests();
    const gap = second!.receivedAt - first!.receivedAt;
    expect(gap).toBeGreaterThanOrEqual(990);
    expect(gap).toBeLessThan(2_000);
  });

  it('passes the Retry-After wait to the sleep exactly, and backs off exponentially without one', async () => {
    fake.failNext(1, { kind: 'throttle', retryAfterSeconds: 2 });
    fake.failNext(2, { kind: 'throttle' });
    const { retry, waits } = recordingRetry({ random: () => 0.5 });
    const provider = new BingImageSearchProvider({ endpoint: fake.endpoint, key: fake.key, retry });

    const response = await provider.search(searchRequest('cats', 5));

    expect(response.results).toHaveLength(5);
    expect(fake.searchRequests()).toHaveLength(4);
    // 2 s from Retry-After; then base*2^(n-1) with equal jitter at random=0.5: 200*0.75, 400*0.75.
    expect(waits).toEqual([2_000, 150, 300]);
  });

  it('gives up on persistent 5xx with an error that says how many tries', async () => {
    fake.failNext(10, { kind: 'server-error', status: 503 });
    const { retry, waits } = recordingRetry({ maxRetries: 2 });
    const provider = new BingImageSearchProvider({ endpoint: fake.endpoint, key: fake.key, retry });

    const error = await provider.search(searchRequest('cats', 5)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SearchProviderError);
    expect((error as SearchProviderError).statusCode).toBe(503);
    expect(messageOf(error)).toContain('gave up after 3 tries');
    expect(messageOf(error)).toContain('HTTP 503: ServerError/UnexpectedError');
    expect(fake.searchRequests()).toHaveLength(3);
    expect(waits).toEqual([100, 200]);
  });

  it('gives up at once when Retry-After asks for more than maxDelayInMs', async () => {
    fake.failNext(1, { kind: 'throttle', retryAfterSeconds: 120 });
    const { retry, waits } = recordingRetry();
    const provider = new BingImageSearchProvider({ endpoint: fake.endpoint, key: fake.key, retry });

    const error = await provider.search(searchRequest('cats', 5)).catch((e: unknown) => e);

    expect((error as SearchProviderError).statusCode).toBe(429);
    expect(messageOf(error)).toContain('asked to wait 120 s');
    expect(messageOf(error)).toContain('rate limit');
    expect(waits).toEqual([]);
    expect(fake.searchRequests()).toHaveLength(1);
  });

  it('sends one request per try: ms-rest-js retries nothing itself (a 429 with Retry-After, a 500)', async () => {
    const provider = new BingImageSearchProvider({
      endpoint: fake.endpoint,
      key: fake.key,
      retry: recordingRetry({ maxRetries: 0 }).retry,
    });

    fake.failNext(1, { kind: 'throttle', retryAfterSeconds: 1 });
    const throttled = await provider.search(searchRequest('cats', 5)).catch((e: unknown) => e);
    expect(messageOf(throttled)).toContain('gave up after 1 try');
    expect(fake.searchRequests()).toHaveLength(1);

    fake.failNext(1, { kind: 'server-error' });
    const failed = await provider.search(searchRequest('cats', 5)).catch((e: unknown) => e);
    expect((failed as SearchProviderError).statusCode).toBe(500);
    expect(fake.searchRequests()).toHaveLength(2);
  });

  it('retries a request that timed out', async () => {
    fake.failNext(1, { kind: 'hang' });
    const { retry, waits } = recordingRetry();
    const provider = new BingImageSearchProvider({ endpoint: fake.endpoint, key: fake.key, retry, timeoutInMs: 200 });

    const response = await provider.search(searchRequest('cats', 5));

    expect(response.results).toHaveLength(5);
    expect(fake.searchRequests()).toHaveLength(2);
    expect(waits).toEqual([100]);

    fake.failNext(1, { kind: 'hang' });
    const impatient = new BingImageSearchProvider({
      endpoint: fake.endpoint,
      key: fake.key,
      retry: recordingRetry({ maxRetries: 0 }).retry,
      timeoutInMs: 200,
    });
    await expect(impatient.search(searchRequest('cats', 5))).rejects.toThrow(
      /gave up after 1 try \(last answer: no answer within 200 ms\)/,
    );
  });

  it('retries a dropped connection', async () => {
    fake.failNext(1, { kind: 'reset' });
    const { retry, waits } = recordingRetry();
    const provider = new BingImageSearchProvider({ endpoint: fake.endpoint, key: fake.key, retry });

    const response = await provider.search(searchRequest('cats', 5));

    expect(response.results).toHaveLength(5);
    expect(fake.searchRequests()).toHaveLength(2);
    expect(waits).toEqual([100]);
  });
});
