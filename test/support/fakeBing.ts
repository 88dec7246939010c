// A fake Bing Image Search v7 service on 127.0.0.1: the wire format the SDK (@azure/cognitiveservices-imagesearch)
// speaks, a per-query image catalog, and the images themselves, so that a downloader can fetch what a search found.
// Shapes follow the v7 reference: the Images answer, ImageObject values and the ErrorResponse of failed requests.
import type * as http from 'node:http';

import {
  type CommonFailure,
  contentTypeOf,
  extensionOf,
  failConnection,
  FailureScript,
  formatOf,
  type RecordedRequest,
  retryAfterHeaders,
  sendImage,
  sendJson,
  startRecordingServer,
} from './fakeHttp';

export { contentTypeOf, formatOf, type RecordedRequest };

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

/**
 * A scripted answer to the next search request(s), instead of results: throttle is a 429 RateLimitExceeded,
 * server-error a 5xx with the ServerError body, and reset and hang act on the connection (see fakeHttp).
 */
export type ScriptedFailure =
  | CommonFailure
  /** 403 InsufficientAuthorization (what Bing answers when a key's quota is spent). */
  | { kind: 'forbidden' };

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
  const script = new FailureScript<ScriptedFailure>();
  // Every image any catalog call returned, by id, so that /images/<id>.<ext> can serve it afterwards.
  const served = new Map<string, FakeImage>();
  const server = await startRecordingServer((req, res, url) => {
    if (url.pathname === BING_SEARCH_PATH) {
      if (req.method !== 'GET')
        return sendBingJson(
          res,
          405,
          errorResponse('InvalidRequest', 'ParameterInvalidValue', 'Only GET is supported.'),
        );
      const failure = script.next();
      if (failure) return sendFailure(res, failure);
      return search(url.searchParams, req.headers, res);
    }
    const image = /^\/(images|thumbnails)\/([^/.]+)(\.[a-z0-9]+)?$/.exec(url.pathname);
    if (image && req.method === 'GET') {
      const found = served.get(decodeURIComponent(image[2]!));
      if (!found) return sendBingJson(res, 404, { statusCode: 404, message: 'Resource not found' });
      return sendImage(res, found.bytes);
    }
    const page = /^\/pages\/([^/]+)$/.exec(url.pathname);
    if (page && req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>${escapeHtml(decodeURIComponent(page[1]!))}</title>`);
      return;
    }
    // What the API gateway in front of Bing answers for a path it does not know (a wrong endpoint).
    return sendBingJson(res, 404, { statusCode: 404, message: 'Resource not found' });
  });
  const { origin } = server;

  function search(params: URLSearchParams, headers: http.IncomingHttpHeaders, res: http.ServerResponse): void {
    const presented = headers['ocp-apim-subscription-key'];
    if (presented !== key) {
      return sendBingJson(
        res,
        401,
        errorResponse('InvalidAuthorization', 'AuthorizationMissing', 'Authorization is required.', {
          moreDetails: presented === undefined ? 'Subscription key is missing.' : 'Subscription key is not recognized.',
        }),
      );
    }
    const q = params.get('q');
    if (q === null || q.trim() === '') {
      return sendBingJson(
        res,
        400,
        errorResponse('InvalidRequest', 'ParameterMissing', 'Required parameter is missing.', { parameter: 'q' }),
      );
    }
    for (const [name, allowed] of Object.entries(ENUMS)) {
      const value = params.get(name);
      if (value !== null && !allowed.some((a) => a.toLowerCase() === value.toLowerCase())) {
        return sendBingJson(res, 400, invalidValue(name, value));
      }
    }
    const mkt = params.get('mkt');
    if (mkt !== null && !/^[a-z]{2}-[A-Z]{2}$/.test(mkt)) return sendBingJson(res, 400, invalidValue('mkt', mkt));
    const numbers: Record<string, number | undefined> = {};
    for (const name of ['count', 'offset', 'minWidth', 'minHeight']) {
      const raw = params.get(name);
      if (raw === null) continue;
      if (!/^\d+$/.test(raw)) return sendBingJson(res, 400, invalidValue(name, raw));
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
    sendBingJson(res, 200, {
      _type: 'Images',
      instrumentation: { _type: 'ResponseInstrumentation' },
      readLink: `${origin}/api/v7/images/search?${query.toString()}`,
      webSearchUrl: `https://www.bing.com/images/search?${query.toString()}&FORM=OIIARP`,
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

  return {
    endpoint: origin,
    key,
    url: server.url,
    requests: server.requests,
    searchRequests: () => server.requests.filter((r) => r.path === BING_SEARCH_PATH),
    failNext: (count, failure) => script.add(count, failure),
    setCatalog(next) {
      catalog = next;
    },
    close: server.close,
  };
}

function sendFailure(res: http.ServerResponse, failure: ScriptedFailure): void {
  switch (failure.kind) {
    case 'throttle':
      return sendBingJson(
        res,
        429,
        errorResponse('RateLimitExceeded', undefined, 'Rate limit is exceeded.'),
        retryAfterHeaders(failure.retryAfterSeconds),
      );
    case 'server-error':
      return sendBingJson(
        res,
        failure.status ?? 500,
        errorResponse('ServerError', 'UnexpectedError', 'An unexpected error has occurred.'),
      );
    case 'forbidden':
      return sendBingJson(
        res,
        403,
        errorResponse('InsufficientAuthorization', 'AuthorizationExpired', 'Out of call volume quota.'),
      );
    default:
      return failConnection(res, failure);
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

/** JSON as Bing sends it: with a charset and a trace id. */
function sendBingJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, body, {
    'Content-Type': 'application/json; charset=utf-8',
    'BingAPIs-TraceId': 'fake-trace-id',
    ...headers,
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
