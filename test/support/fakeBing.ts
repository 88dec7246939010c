// A fake Bing Image Search v7 service on 127.0.0.1: the wire format the SDK (@azure/cognitiveservices-imagesearch)
// speaks, a per-query image catalog, and the images themselves, so that a downloader can fetch what a search found.
// Shapes follow the v7 reference: the Images answer, ImageObject values and the ErrorResponse of failed requests.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** The path the SDK requests: its baseUri is "{Endpoint}/bing/v7.0" and the operation path "images/search". */
export const BING_SEARCH_PATH = '/bing/v7.0/images/search';

/** One image the fake knows; it is served at /images/<id>.<ext> unless contentUrl points elsewhere. */
export interface FakeImage {
  id: string;
  bytes: Buffer;
  width: number;
  height: number;
  /** Put in the result instead of this server's URL (e.g. http://169.254.169.254/... to test an SSRF guard). */
  contentUrl?: string;
  name?: string;
  /** Defaults to the format sniffed from the bytes (jpeg, png, gif, webp, bmp). */
  encodingFormat?: string;
}

/** The images a query finds, in rank order (the fake pages through them with count and offset). */
export type FakeCatalog = (query: string) => FakeImage[];

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  /** Date.now() on arrival, to measure the waits between tries. */
  receivedAt: number;
}

/** A scripted answer to the next search request(s), instead of results. */
export type ScriptedFailure =
  /** 429 RateLimitExceeded, with `Retry-After: <seconds>` when retryAfterSeconds is given. */
  | { kind: 'throttle'; retryAfterSeconds?: number }
  /** A 5xx with the ServerError body (500 unless status says otherwise). */
  | { kind: 'server-error'; status?: number }
  /** 403 InsufficientAuthorization (what Bing answers when a key's quota is spent). */
  | { kind: 'forbidden' }
  /** Drops the connection without an answer. */
  | { kind: 'reset' }
  /** Never answers (until the client gives up or the fake closes), to exercise timeouts. */
  | { kind: 'hang' };

export interface FakeBingOptions {
  /** The subscription key the fake accepts (a default one is made up). */
  key?: string;
  catalog?: FakeCatalog;
}

export interface FakeBing {
  /** The origin to give the SDK as its endpoint, e.g. http://127.0.0.1:12345. */
  readonly endpoint: string;
  readonly key: string;
  /** An absolute URL on this server. */
  url(path: string): string;
  /** Every request, searches and image downloads alike, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Only the search requests. */
  searchRequests(): RecordedRequest[];
  /** Answers the next `count` search requests with `failure`; scripts queue up in order. */
  failNext(count: number, failure: ScriptedFailure): void;
  setCatalog(catalog: FakeCatalog): void;
  close(): Promise<void>;
}

// Bing's documented enumerations: a value outside them is a 400 ParameterInvalidValue, as on the real service.
const ENUMS: Record<string, readonly string[]> = {
  imageType: ['AnimatedGif', 'AnimatedGifHttps', 'Clipart', 'Line', 'Photo', 'Shopping', 'Transparent'],
  safeSearch: ['Off', 'Moderate', 'Strict'],
  license: ['All', 'Any', 'Public', 'Share', 'ShareCommercially', 'Modify', 'ModifyCommercially'],
  freshness: ['Day', 'Week', 'Month'],
};
/** The most results one v7 image search returns; larger counts are clamped. */
const MAX_COUNT = 150;
const DEFAULT_COUNT = 35;

export async function startFakeBing(options: FakeBingOptions = {}): Promise<FakeBing> {
  const key = options.key ?? 'fake-bing-key-0123456789abcdef';
  let catalog: FakeCatalog = options.catalog ?? (() => []);
  const requests: RecordedRequest[] = [];
  const searchRequests: RecordedRequest[] = [];
  const script: ScriptedFailure[] = [];
  // Every image any catalog call returned, by id, so that /images/<id>.<ext> can serve it afterwards.
  const served = new Map<string, FakeImage>();
  let origin = '';

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      receivedAt: Date.now(),
    };
    requests.push(recorded);

    if (url.pathname === BING_SEARCH_PATH) {
      searchRequests.push(recorded);
      if (req.method !== 'GET') return sendJson(res, 405, errorResponse('InvalidRequest', 'ParameterInvalidValue', 'Only GET is supported.'));
      const failure = script.shift();
      if (failure) return sendFailure(res, failure);
      return search(url.searchParams, req.headers, res);
    }
    const image = /^\/(images|thumbnails)\/([^/.]+)(\.[a-z0-9]+)?$/.exec(url.pathname);
    if (image && req.method === 'GET') {
      const found = served.get(decodeURIComponent(image[2]!));
      if (!found) return sendJson(res, 404, { statusCode: 404, message: 'Resource not found' });
      res.writeHead(200, { 'Content-Type': contentTypeOf(found.bytes), 'Content-Length': found.bytes.length });
      res.end(found.bytes);
      return;
    }
    const page = /^\/pages\/([^/]+)$/.exec(url.pathname);
    if (page && req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>${escapeHtml(decodeURIComponent(page[1]!))}</title>`);
      return;
    }
    // What the API gateway in front of Bing answers for a path it does not know (a wrong endpoint).
    return sendJson(res, 404, { statusCode: 404, message: 'Resource not found' });
  });

  function search(params: URLSearchParams, headers: http.IncomingHttpHeaders, res: http.ServerResponse): void {
    const presented = headers['ocp-apim-subscription-key'];
    if (presented !== key) {
      return sendJson(
        res,
        401,
        errorResponse('InvalidAuthorization', 'AuthorizationMissing', 'Authorization is required.', {
          moreDetails: presented === undefined ? 'Subscription key is missing.' : 'Subscription key is not recognized.',
        }),
      );
    }
    const q = params.get('q');
    if (q === null || q.trim() === '') {
      return sendJson(res, 400, errorResponse('InvalidRequest', 'ParameterMissing', 'Required parameter is missing.', { parameter: 'q' }));
    }
    for (const [name, allowed] of Object.entries(ENUMS)) {
      const value = params.get(name);
      if (value !== null && !allowed.some((a) => a.toLowerCase() === value.toLowerCase())) {
        return sendJson(res, 400, invalidValue(name, value));
      }
    }
    const mkt = params.get('mkt');
    if (mkt !== null && !/^[a-z]{2}-[A-Z]{2}$/.test(mkt)) return sendJson(res, 400, invalidValue('mkt', mkt));
    const numbers: Record<string, number | undefined> = {};
    for (const name of ['count', 'offset', 'minWidth', 'minHeight']) {
      const raw = params.get(name);
      if (raw === null) continue;
      if (!/^\d+$/.test(raw)) return sendJson(res, 400, invalidValue(name, raw));
      numbers[name] = Number(raw);
    }

    const count = Math.min(numbers['count'] ?? DEFAULT_COUNT, MAX_COUNT);
    const offset = numbers['offset'] ?? 0;
    const all = catalog(q).filter(
      (image) => image.width >= (numbers['minWidth'] ?? 0) && image.height >= (numbers['minHeight'] ?? 0),
    );
    for (const image of all) served.set(image.id, image);
    const page = all.slice(offset, offset + count);
    const query = new URLSearchParams({ q });
    sendJson(res, 200, {
      _type: 'Images',
      instrumentation: { _type: 'ResponseInstrumentation' },
      readLink: `${origin}/api/v7/images/search?${query}`,
      webSearchUrl: `https://www.bing.com/images/search?${query}&FORM=OIIARP`,
      totalEstimatedMatches: all.length,
      nextOffset: offset + page.length,
      currentOffset: offset,
      value: page.map((image) => imageObject(image)),
    });
  }

  function imageObject(image: FakeImage): Record<string, unknown> {
    const format = image.encodingFormat ?? formatOf(image.bytes);
    const id = encodeURIComponent(image.id);
    const thumbWidth = Math.min(image.width, 300);
    return {
      webSearchUrl: `https://www.bing.com/images/search?view=detailv2&id=${id}`,
      name: image.name ?? `Image ${image.id}`,
      thumbnailUrl: `${origin}/thumbnails/${id}`,
      datePublished: '2024-05-01T12:00:00.0000000Z',
      isFamilyFriendly: true,
      contentUrl: image.contentUrl ?? `${origin}/images/${id}.${extensionOf(format)}`,
      hostPageUrl: `${origin}/pages/${id}`,
      contentSize: `${image.bytes.length} B`,
      encodingFormat: format,
      hostPageDisplayUrl: `${origin}/pages/${id}`,
      width: image.width,
      height: image.height,
      hostPageDiscoveredDate: '2024-05-01T00:00:00.0000000Z',
      thumbnail: { width: thumbWidth, height: Math.round((image.height * thumbWidth) / image.width) },
      imageInsightsToken: `ccid_${id}*mid_${id}`,
      insightsMetadata: { pagesIncludingCount: 1, availableSizesCount: 1 },
      imageId: image.id,
      accentColor: '5A6B7C',
    };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint: origin,
    key,
    url: (path) => new URL(path, origin).toString(),
    requests,
    searchRequests: () => [...searchRequests],
    failNext(count, failure) {
      for (let i = 0; i < count; i++) script.push(failure);
    },
    setCatalog(next) {
      catalog = next;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function sendFailure(res: http.ServerResponse, failure: ScriptedFailure): void {
  switch (failure.kind) {
    case 'throttle':
      return sendJson(
        res,
        429,
        errorResponse('RateLimitExceeded', undefined, 'Rate limit is exceeded.'),
        failure.retryAfterSeconds !== undefined ? { 'Retry-After': String(failure.retryAfterSeconds) } : {},
      );
    case 'server-error':
      return sendJson(res, failure.status ?? 500, errorResponse('ServerError', 'UnexpectedError', 'An unexpected error has occurred.'));
    case 'forbidden':
      return sendJson(res, 403, errorResponse('InsufficientAuthorization', 'AuthorizationExpired', 'Out of call volume quota.'));
    case 'reset':
      res.socket?.destroy();
      return;
    case 'hang':
      return;
  }
}

function errorResponse(
  code: string,
  subCode: string | undefined,
  message: string,
  extra: { moreDetails?: string; parameter?: string; value?: string } = {},
): Record<string, unknown> {
  return { _type: 'ErrorResponse', errors: [{ code, ...(subCode ? { subCode } : {}), message, ...extra }] };
}

function invalidValue(parameter: string, value: string): Record<string, unknown> {
  return errorResponse('InvalidRequest', 'ParameterInvalidValue', 'Parameter has invalid value.', { parameter, value });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'BingAPIs-TraceId': 'fake-trace-id',
    ...headers,
  });
  res.end(text);
}

/** The image format the bytes start with, in Bing's encodingFormat words; 'unknown' otherwise. */
export function formatOf(bytes: Buffer): string {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (bytes.subarray(0, 3).toString('latin1') === 'GIF') return 'gif';
  if (bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp';
  if (bytes.subarray(0, 2).toString('latin1') === 'BM') return 'bmp';
  return 'unknown';
}

function extensionOf(format: string): string {
  return format === 'jpeg' ? 'jpg' : format === 'unknown' ? 'bin' : format;
}

export function contentTypeOf(bytes: Buffer): string {
  const format = formatOf(bytes);
  return format === 'unknown' ? 'application/octet-stream' : `image/${format}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
