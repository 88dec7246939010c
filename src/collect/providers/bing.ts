// Bing Image Search v7 through Microsoft's SDK (@azure/cognitiveservices-imagesearch on @azure/ms-rest-js).
//
// Microsoft retired the public Bing Search APIs in August 2025, so the endpoint is configurable: any service that
// speaks the v7 image search wire format works. The SDK requests <endpoint>/bing/v7.0/images/search (its baseUri is
// "{Endpoint}/bing/v7.0"), authenticates with the Ocp-Apim-Subscription-Key header, and pages with count/offset.
import { ImageSearchClient, type ImageSearchModels } from '@azure/cognitiveservices-imagesearch';
import {
  type AbortSignalLike,
  ApiKeyCredentials,
  type CommonRequestInfo,
  type CommonRequestInit,
  type CommonResponse,
  DefaultHttpClient,
} from '@azure/ms-rest-js';

import { ConfigurationError, messageOf } from '../../errors';
import {
  type ImageResult,
  type ImageSearchProvider,
  type SearchProviderDefinition,
  SearchProviderError,
  type SearchRequest,
  type SearchResponse,
} from '../types';
import { DEFAULT_MAX_SEARCH_ANSWER_BYTES, readTextWithLimit, SearchAnswerTooLargeError } from './answerLimit';
import {
  DEFAULT_RETRY_OPTIONS,
  parseRetryAfter,
  RetriesExhaustedError,
  type RetryOptions,
  type RetryVerdict,
  withRetry,
} from './retry';

export interface BingImageSearchProviderOptions {
  /** The service's scheme and host, e.g. https://api.cognitive.microsoft.com (BING_SEARCH_ENDPOINT); no path. */
  endpoint: string;
  /** The subscription key (BING_SEARCH_KEY). */
  key: string;
  retry?: RetryOptions;
  /** Results asked for per request: 1 to 150 (v7's most); default 150, fewest calls for the quota. */
  pageSize?: number;
  /** Per request; default 30 s. */
  timeoutInMs?: number;
  /** The most bytes one answer may have; default DEFAULT_MAX_SEARCH_ANSWER_BYTES (8 MiB). */
  maxAnswerBytes?: number;
}

/** The most results one v7 image search request returns. */
export const BING_MAX_PAGE_SIZE = 150;
/** The path the SDK appends to the endpoint; named in errors so a wrong endpoint is easy to spot. */
export const BING_SEARCH_PATH = '/bing/v7.0/images/search';
/** Pages beyond those the count needs, to absorb pages that hold only duplicates, before we stop anyway. */
const SPARE_PAGES = 5;

// Failures worth another try: the connection broke or timed out, rather than the service saying no.
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'EAI_AGAIN',
  'REQUEST_ABORTED_ERROR',
]);

/** The registry's `bing`: BING_SEARCH_ENDPOINT with BING_SEARCH_KEY, which plans that use it need. */
export const bingProvider = {
  name: 'bing',
  create: (settings) => {
    if (!settings.bing.key) {
      throw new ConfigurationError(
        'BING_SEARCH_KEY is not set: the collection plan uses the bing provider (see README: Bing retirement)',
      );
    }
    return new BingImageSearchProvider({ endpoint: settings.bing.endpoint, key: settings.bing.key });
  },
} as const satisfies SearchProviderDefinition;

export class BingImageSearchProvider implements ImageSearchProvider {
  readonly name = 'bing';
  private readonly client: ImageSearchClient;
  private readonly endpoint: string;
  private readonly retry: RetryOptions;
  private readonly pageSize: number;
  private readonly timeoutInMs: number;

  constructor(options: BingImageSearchProviderOptions) {
    this.endpoint = checkEndpoint(options.endpoint);
    if (options.key.trim() === '') {
      throw new SearchProviderError(
        'BING_SEARCH_KEY is empty: set it to the subscription key of the service at BING_SEARCH_ENDPOINT',
      );
    }
    this.pageSize = options.pageSize ?? BING_MAX_PAGE_SIZE;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1 || this.pageSize > BING_MAX_PAGE_SIZE) {
      throw new RangeError(`pageSize must be an integer from 1 to ${BING_MAX_PAGE_SIZE}, not ${this.pageSize}`);
    }
    this.retry = options.retry ?? DEFAULT_RETRY_OPTIONS;
    this.timeoutInMs = options.timeoutInMs ?? 30_000;
    this.client = new ImageSearchClient(
      new ApiKeyCredentials({ inHeader: { 'Ocp-Apim-Subscription-Key': options.key } }),
      {
        endpoint: this.endpoint,
        // ms-rest-js's own retries, measured against the fake: a 5xx is retried 3 times, the first after ~30 s (3 s +
        // (2^n - 1) x 24-36 s, capped at 90 s; exponentialRetryPolicy), while a 429 is never retried, Retry-After or not,
        // because the deserialization policy turns it into an error before throttlingRetryPolicy sees the response.
        // Both (and systemErrorRetryPolicy's socket-error retries) would make tries uncountable and waits unbounded,
        // so they are off and withRetry does all retrying.
        noRetryPolicy: true,
        // The SDK reads every answer whole as text; this client stops reading past the cap.
        httpClient: new CappedHttpClient(options.maxAnswerBytes ?? DEFAULT_MAX_SEARCH_ANSWER_BYTES),
      },
    );
  }

  async search(request: SearchRequest): Promise<SearchResponse> {
    const results: ImageResult[] = [];
    const seen = new Set<string>();
    let totalEstimatedMatches: number | undefined;
    let offset = 0;
    const maxPages = Math.ceil(request.count / this.pageSize) + SPARE_PAGES;
    for (let pages = 0; results.length < request.count && pages < maxPages; pages++) {
      const count = Math.min(this.pageSize, request.count - results.length);
      const page = await this.fetchPage(request, count, offset);
      totalEstimatedMatches = page.totalEstimatedMatches ?? totalEstimatedMatches;
      for (const value of page.value) {
        const result = toImageResult(value);
        // Bing may repeat an image across pages; one copy is enough.
        if (!result || seen.has(result.contentUrl)) continue;
        seen.add(result.contentUrl);
        results.push(result);
        if (results.length === request.count) break;
      }
      // nextOffset tells where the next page starts (Bing skips what it deduplicated); no progress means no more.
      const next = page.nextOffset ?? offset + page.value.length;
      if (page.value.length === 0 || next <= offset) break;
      offset = next;
    }
    return { results, ...(totalEstimatedMatches !== undefined ? { totalEstimatedMatches } : {}) };
  }

  private async fetchPage(
    request: SearchRequest,
    count: number,
    offset: number,
  ): Promise<ImageSearchModels.ImagesSearchResponse> {
    const f = request.filters;
    const options: ImageSearchModels.ImagesSearchOptionalParams = {
      count,
      offset,
      timeout: this.timeoutInMs,
      // Node's AbortSignal is what ms-rest-js uses at run time; only its older typing (onabort's `this`) differs.
      ...(request.signal ? { abortSignal: request.signal as unknown as AbortSignalLike } : {}),
      // The plan validates these against Bing's enumerations; the SDK's types list fewer (no AnimatedGifHttps).
      ...(f.imageType !== undefined ? { imageType: f.imageType as ImageSearchModels.ImageType } : {}),
      ...(f.safeSearch !== undefined ? { safeSearch: f.safeSearch } : {}),
      ...(f.license !== undefined ? { license: f.license as ImageSearchModels.ImageLicense } : {}),
      ...(f.minWidth !== undefined ? { minWidth: f.minWidth } : {}),
      ...(f.minHeight !== undefined ? { minHeight: f.minHeight } : {}),
      ...(f.market !== undefined ? { market: f.market } : {}),
      ...(f.freshness !== undefined ? { freshness: f.freshness } : {}),
    };
    try {
      return await withRetry(
        () => this.client.images.search(request.query, options),
        classify,
        this.retry,
        request.signal,
      );
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason ?? error;
      throw this.explain(error);
    }
  }

  /** Turns what the SDK threw into an error that names the setting to fix. */
  private explain(error: unknown): SearchProviderError {
    if (error instanceof SearchAnswerTooLargeError) {
      return new SearchProviderError(
        `Bing image search at ${this.endpoint} answered more than ${error.maxBytes} bytes for one page; BING_SEARCH_ENDPOINT is probably wrong`,
        undefined,
        { permanent: true },
      );
    }
    if (error instanceof RetriesExhaustedError) {
      const last = error.lastError;
      const status = statusOf(last);
      const what = status !== undefined ? `HTTP ${status}${describeBody(last)}` : this.describeNetworkFailure(last);
      const advice =
        status === 429
          ? "the key is over its rate limit; lower the collection concurrency or raise the key's tier"
          : 'the service at BING_SEARCH_ENDPOINT is failing; try again later';
      return new SearchProviderError(
        `Bing image search at ${this.endpoint} failed: ${error.message} (last answer: ${what}); ${advice}`,
        status,
      );
    }
    const status = statusOf(error);
    if (status === 401 || status === 403) {
      return new SearchProviderError(
        `Bing refused the subscription key (HTTP ${status}${describeBody(error)}): BING_SEARCH_KEY is wrong for the endpoint ${this.endpoint}` +
          (status === 403 ? ', or its quota is spent' : '') +
          '; set BING_SEARCH_KEY to a key of the service at BING_SEARCH_ENDPOINT',
        status,
      );
    }
    if (status === 404) {
      return new SearchProviderError(
        `Bing image search answered 404 for ${requestUrlOf(error) ?? `${this.endpoint}${BING_SEARCH_PATH}`}: BING_SEARCH_ENDPOINT (${this.endpoint}) is wrong; ` +
          `it must be the scheme and host of a v7-compatible service, to which the SDK appends ${BING_SEARCH_PATH}`,
        status,
      );
    }
    if (status === 400) {
      return new SearchProviderError(
        `Bing image search at ${this.endpoint} rejected the request (HTTP 400${describeBody(error)}); check the collection plan's filters`,
        status,
      );
    }
    if (status !== undefined) {
      return new SearchProviderError(
        `Bing image search at ${this.endpoint} failed with HTTP ${status}${describeBody(error)}`,
        status,
      );
    }
    return new SearchProviderError(
      `Could not reach BING_SEARCH_ENDPOINT ${this.endpoint}: ${this.describeNetworkFailure(error)}`,
    );
  }

  private describeNetworkFailure(error: unknown): string {
    // ms-rest-js reports its own timeout as an abort; the caller's aborts never get this far.
    if (codeOf(error) === 'REQUEST_ABORTED_ERROR') return `no answer within ${this.timeoutInMs} ms`;
    const code = codeOf(error);
    const message = messageOf(error);
    return code && !message.includes(code) ? `${code} ${message}` : message;
  }
}

/**
 * ms-rest-js's Node client (node-fetch) whose responses read their text with a byte cap: past it the body stream is
 * destroyed (closing the connection) and the request fails with SearchAnswerTooLargeError, which the SDK passes on.
 */
class CappedHttpClient extends DefaultHttpClient {
  constructor(private readonly maxBytes: number) {
    super();
  }

  override async fetch(input: CommonRequestInfo, init?: CommonRequestInit): Promise<CommonResponse> {
    const response = await super.fetch(input, init);
    const body = response.body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | null;
    // The SDK reads only text() of a response it does not stream (we never ask it to stream).
    Object.defineProperty(response, 'text', {
      value: () =>
        readTextWithLimit(body, {
          maxBytes: this.maxBytes,
          contentLength: response.headers.get('content-length'),
          cancel: () => body?.destroy?.(),
        }),
    });
    return response;
  }
}

/**
 * The endpoint without its trailing slash. It must be scheme://host[:port] only: ms-rest-js substitutes it into
 * "{Endpoint}/bing/v7.0/images/search" in a way that keeps the endpoint's own path and drops the SDK's (we saw
 * http://host/prefix become a request for /prefix), so a path would silently send every search to the wrong place.
 */
function checkEndpoint(raw: string): string {
  const trimmed = raw.trim().replace(/\/+$/, '');
  const url = URL.canParse(trimmed) ? new URL(trimmed) : undefined;
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new SearchProviderError(
      `BING_SEARCH_ENDPOINT must be an http(s) URL such as https://api.cognitive.microsoft.com, not "${raw}"`,
    );
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    throw new SearchProviderError(
      `BING_SEARCH_ENDPOINT must be only the scheme and host of the service (such as https://api.cognitive.microsoft.com), not "${raw}": ` +
        `the SDK appends ${BING_SEARCH_PATH} itself and cannot keep a path of its own`,
    );
  }
  return trimmed;
}

/** 429 and 5xx (and 408) are worth retrying, honouring Retry-After; so are broken connections and timeouts. */
function classify(error: unknown): RetryVerdict {
  const status = statusOf(error);
  if (status !== undefined) {
    if (status === 408 || status === 429 || status >= 500) {
      const retryAfterInMs = parseRetryAfter(headerOf(error, 'retry-after'));
      return retryAfterInMs !== undefined ? { retry: true, retryAfterInMs } : { retry: true };
    }
    return { retry: false };
  }
  const code = codeOf(error);
  return { retry: code !== undefined && TRANSIENT_NETWORK_CODES.has(code) };
}

function toImageResult(value: ImageSearchModels.ImageObject): ImageResult | undefined {
  if (!value.contentUrl) return undefined;
  return {
    contentUrl: value.contentUrl,
    ...(value.hostPageUrl ? { hostPageUrl: value.hostPageUrl } : {}),
    ...(value.thumbnailUrl ? { thumbnailUrl: value.thumbnailUrl } : {}),
    ...(value.imageId ? { imageId: value.imageId } : {}),
    ...(value.encodingFormat ? { encodingFormat: value.encodingFormat } : {}),
    ...(typeof value.width === 'number' ? { width: value.width } : {}),
    ...(typeof value.height === 'number' ? { height: value.height } : {}),
  };
}

// ms-rest-js throws RestError (statusCode, code, response with headers, body as the deserialized ErrorResponse)
// for answers and node-fetch's FetchError (code such as ECONNREFUSED) for connections; both are read by shape.
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function statusOf(error: unknown): number | undefined {
  return isObject(error) && typeof error['statusCode'] === 'number' ? error['statusCode'] : undefined;
}

function codeOf(error: unknown): string | undefined {
  return isObject(error) && typeof error['code'] === 'string' ? error['code'] : undefined;
}

function headerOf(error: unknown, name: string): string | undefined {
  if (!isObject(error) || !isObject(error['response'])) return undefined;
  const headers = error['response']['headers'];
  if (!isObject(headers) || typeof headers['get'] !== 'function') return undefined;
  const value: unknown = (headers['get'] as (n: string) => unknown).call(headers, name);
  return typeof value === 'string' ? value : undefined;
}

function requestUrlOf(error: unknown): string | undefined {
  return isObject(error) && isObject(error['request']) && typeof error['request']['url'] === 'string'
    ? error['request']['url'].replace(/\?.*$/, '')
    : undefined;
}

/** ": InvalidAuthorization/AuthorizationMissing: Authorization is required. (Subscription key is not recognized.)" from a v7 ErrorResponse. */
function describeBody(error: unknown): string {
  let body: unknown = isObject(error) ? error['body'] : undefined;
  if (
    !isObject(body) &&
    isObject(error) &&
    isObject(error['response']) &&
    typeof error['response']['body'] === 'string'
  ) {
    try {
      body = JSON.parse(error['response']['body']);
    } catch {
      body = undefined;
    }
  }
  const errors = isObject(body) ? body['errors'] : undefined;
  const first: unknown = Array.isArray(errors) ? errors[0] : undefined;
  if (!isObject(first)) return '';
  const text = (key: string): string | undefined => (typeof first[key] === 'string' ? first[key] : undefined);
  const code = [text('code'), text('subCode')].filter(Boolean).join('/');
  const parameter = text('parameter')
    ? ` parameter ${text('parameter')}${text('value') !== undefined ? `=${text('value')}` : ''}`
    : '';
  const details = text('moreDetails') ? ` (${text('moreDetails')})` : '';
  return `: ${code}${code ? ': ' : ''}${text('message') ?? ''}${parameter}${details}`;
}
