// Openverse (https://api.openverse.org): openly licensed images, no contract or key needed.
// GET /v1/images/?q=&page=&page_size= answers { result_count, page_count, page_size, page, results[] }; each result
// carries its licence and a ready-made attribution sentence, which we keep with the image.
//
// Anonymous limits of the API: page_size at most 20 (more is a 401, NotAuthenticated) and page at most 20 (more is
// a 400), so an anonymous search reaches at most 400 results per query.
import { z } from 'zod';

import { AppError, messageOf } from '../../errors';
import {
  type ImageResult,
  type ImageSearchProvider,
  type SearchFilters,
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

export const OPENVERSE_DEFAULT_ENDPOINT = 'https://api.openverse.org';
export const OPENVERSE_MAX_ANONYMOUS_PAGE_SIZE = 20;
export const OPENVERSE_MAX_PAGE = 20;
const SEARCH_PATH = 'v1/images/';
const USER_AGENT = 'image-classifier-functions/0.1 (Openverse image search provider)';

export interface OpenverseProviderOptions {
  /** The API root (OPENVERSE_ENDPOINT); default https://api.openverse.org. */
  endpoint?: string;
  retry?: RetryOptions;
  /** Results per page: default 20, the most Openverse allows an anonymous client. */
  pageSize?: number;
  /** Injectable for tests; default the global fetch. */
  fetch?: typeof fetch;
  /** Per request; default 30 s. */
  timeoutInMs?: number;
  /** The most bytes one answer may have; default DEFAULT_MAX_SEARCH_ANSWER_BYTES (8 MiB). */
  maxAnswerBytes?: number;
}

// Only what we read is checked; Openverse sends more (tags, provider, fields_matched...) and may add fields.
// Many fields are null when the source did not supply them.
const resultSchema = z.object({
  id: z.string(),
  url: z.string().nullish(),
  thumbnail: z.string().nullish(),
  foreign_landing_url: z.string().nullish(),
  creator: z.string().nullish(),
  license: z.string().nullish(),
  license_version: z.string().nullish(),
  license_url: z.string().nullish(),
  attribution: z.string().nullish(),
  width: z.number().nullish(),
  height: z.number().nullish(),
  filetype: z.string().nullish(),
});
const pageSchema = z.object({
  result_count: z.number(),
  page_count: z.number(),
  results: z.array(resultSchema),
});
type OpenverseResult = z.infer<typeof resultSchema>;
type OpenversePage = z.infer<typeof pageSchema>;

/** An answer other than 200; thrown inside the retry loop, explained after it. */
class OpenverseHttpError extends AppError {
  override name = 'OpenverseHttpError';
  readonly kind = 'upstream-failed';
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly retryAfter: string | null,
  ) {
    super(`HTTP ${status}${detail ? `: ${detail}` : ''}`);
  }
}

/** A 200 whose body is not an Openverse search answer (a wrong endpoint that happens to answer). */
class OpenverseShapeError extends AppError {
  override name = 'OpenverseShapeError';
  readonly kind = 'upstream-failed';
}

// Failures worth another try: the connection broke or timed out, rather than the service saying no.
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The registry's `openverse`, at OPENVERSE_ENDPOINT (no key needed). */
export const openverseProvider = {
  name: 'openverse',
  create: (settings) => new OpenverseProvider({ endpoint: settings.openverse.endpoint }),
} as const satisfies SearchProviderDefinition;

export class OpenverseProvider implements ImageSearchProvider {
  readonly name = 'openverse';
  private readonly endpoint: string;
  private readonly searchUrl: URL;
  private readonly retry: RetryOptions;
  private readonly pageSize: number;
  private readonly fetch: typeof fetch;
  private readonly timeoutInMs: number;
  private readonly maxAnswerBytes: number;

  constructor(options: OpenverseProviderOptions = {}) {
    const raw = options.endpoint ?? OPENVERSE_DEFAULT_ENDPOINT;
    this.endpoint = raw.trim().replace(/\/+$/, '');
    const base = URL.canParse(`${this.endpoint}/`) ? new URL(`${this.endpoint}/`) : undefined;
    if (!base || (base.protocol !== 'https:' && base.protocol !== 'http:') || base.search !== '' || base.hash !== '') {
      throw new SearchProviderError(
        `OPENVERSE_ENDPOINT must be an http(s) URL such as ${OPENVERSE_DEFAULT_ENDPOINT}, not "${raw}"`,
      );
    }
    // Relative to the endpoint, so that an API served under a path prefix works too.
    this.searchUrl = new URL(SEARCH_PATH, base);
    this.pageSize = options.pageSize ?? OPENVERSE_MAX_ANONYMOUS_PAGE_SIZE;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1) {
      throw new RangeError(`pageSize must be a positive integer, not ${this.pageSize}`);
    }
    this.retry = options.retry ?? DEFAULT_RETRY_OPTIONS;
    this.fetch = options.fetch ?? fetch;
    this.timeoutInMs = options.timeoutInMs ?? 30_000;
    this.maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_SEARCH_ANSWER_BYTES;
  }

  async search(request: SearchRequest): Promise<SearchResponse> {
    const results: ImageResult[] = [];
    const seen = new Set<string>();
    let totalEstimatedMatches: number | undefined;
    for (let page = 1; results.length < request.count && page <= OPENVERSE_MAX_PAGE; page++) {
      const answer = await this.fetchPage(request, page);
      totalEstimatedMatches = answer.result_count;
      for (const item of answer.results) {
        const result = toImageResult(item);
        if (!result || seen.has(result.contentUrl) || !largeEnough(result, request.filters)) continue;
        seen.add(result.contentUrl);
        results.push(result);
        if (results.length === request.count) break;
      }
      // A page may be short (Openverse drops dead links), so only page_count says there are no more pages.
      if (answer.results.length === 0 || page >= answer.page_count) break;
    }
    return { results, ...(totalEstimatedMatches !== undefined ? { totalEstimatedMatches } : {}) };
  }

  private async fetchPage(request: SearchRequest, page: number): Promise<OpenversePage> {
    const url = new URL(this.searchUrl);
    for (const [name, value] of Object.entries(queryOf(request, page, this.pageSize)))
      url.searchParams.set(name, value);
    try {
      return await withRetry(() => this.get(url, request.signal), classify, this.retry, request.signal);
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason ?? error;
      throw this.explain(error, url);
    }
  }

  private async get(url: URL, signal: AbortSignal | undefined): Promise<OpenversePage> {
    const timeout = AbortSignal.timeout(this.timeoutInMs);
    const response = await this.fetch(url, {
      headers: { Accept: 'application/json', 'User-Agent': USER_AGENT },
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const text = await readTextWithLimit(response.body, {
      maxBytes: this.maxAnswerBytes,
      contentLength: response.headers.get('content-length'),
      cancel: () => void response.body?.cancel().catch(() => undefined),
    });
    if (!response.ok)
      throw new OpenverseHttpError(response.status, detailOf(text), response.headers.get('retry-after'));
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new OpenverseShapeError(
        `the answer is not JSON (Content-Type ${response.headers.get('content-type') ?? 'none'})`,
      );
    }
    const parsed = pageSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new OpenverseShapeError(
        `the answer is not an Openverse image search: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unexpected shape'}`,
      );
    }
    return parsed.data;
  }

  /** Turns a failure into an error that names what to fix. */
  private explain(error: unknown, url: URL): SearchProviderError {
    const at = this.searchUrl.toString();
    if (error instanceof SearchAnswerTooLargeError) {
      return new SearchProviderError(
        `Openverse image search at ${at} answered more than ${error.maxBytes} bytes for one page; OPENVERSE_ENDPOINT (${this.endpoint}) is probably wrong`,
        undefined,
        { permanent: true },
      );
    }
    if (error instanceof RetriesExhaustedError) {
      const last = error.lastError;
      const status = last instanceof OpenverseHttpError ? last.status : undefined;
      const what = last instanceof OpenverseHttpError ? last.message : this.describeNetworkFailure(last);
      const advice =
        status === 429
          ? 'Openverse is throttling this client; lower the collection concurrency or try again later'
          : 'the service at OPENVERSE_ENDPOINT is failing; try again later';
      return new SearchProviderError(
        `Openverse image search at ${at} failed: ${error.message} (last answer: ${what}); ${advice}`,
        status,
      );
    }
    if (error instanceof OpenverseHttpError) {
      if (error.status === 401) {
        const pageSize = url.searchParams.get('page_size');
        return new SearchProviderError(
          `Openverse refused the request as unauthenticated (HTTP 401${error.detail ? `: ${error.detail}` : ''}): ` +
            (this.pageSize > OPENVERSE_MAX_ANONYMOUS_PAGE_SIZE
              ? `anonymous clients may ask for at most ${OPENVERSE_MAX_ANONYMOUS_PAGE_SIZE} results a page and this provider sent page_size=${pageSize}; lower pageSize`
              : `the API at OPENVERSE_ENDPOINT (${this.endpoint}) wants credentials this provider does not send; point OPENVERSE_ENDPOINT at an API that allows anonymous search`),
          401,
        );
      }
      if (error.status === 404) {
        return new SearchProviderError(
          `Openverse image search answered 404 for ${at}: OPENVERSE_ENDPOINT (${this.endpoint}) is wrong; it must be the API root such as ${OPENVERSE_DEFAULT_ENDPOINT}`,
          404,
        );
      }
      const hint = error.status === 400 ? "; check the collection plan's filters" : '';
      return new SearchProviderError(
        `Openverse image search at ${at} failed with ${error.message}${hint}`,
        error.status,
      );
    }
    if (error instanceof OpenverseShapeError) {
      return new SearchProviderError(`OPENVERSE_ENDPOINT (${this.endpoint}) is probably wrong: ${error.message}`);
    }
    return new SearchProviderError(
      `Could not reach OPENVERSE_ENDPOINT ${this.endpoint}: ${this.describeNetworkFailure(error)}`,
    );
  }

  private describeNetworkFailure(error: unknown): string {
    if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${this.timeoutInMs} ms`;
    const code = networkCodeOf(error);
    const message = messageOf(error);
    return code ? `${code} (${message})` : message;
  }
}

/** The query string for one page: the filters Openverse supports; the rest (market, freshness, Bing's license) have no equivalent. */
function queryOf(request: SearchRequest, page: number, pageSize: number): Record<string, string> {
  const f = request.filters;
  const licenseTypes = [
    ...(f.requireCommercialUse ? ['commercial'] : []),
    ...(f.requireModification ? ['modification'] : []),
  ];
  const category =
    f.imageType === 'Photo'
      ? 'photograph'
      : f.imageType === 'Clipart' || f.imageType === 'Line'
        ? 'illustration'
        : undefined;
  return {
    q: request.query,
    page: String(page),
    page_size: String(pageSize),
    ...(licenseTypes.length > 0 ? { license_type: licenseTypes.join(',') } : {}),
    // Sensitive results only when safe search is explicitly off.
    mature: f.safeSearch === 'Off' ? 'true' : 'false',
    ...(category ? { category } : {}),
  };
}

function toImageResult(item: OpenverseResult): ImageResult | undefined {
  if (!item.url) return undefined;
  const license = [item.license, item.license_version].filter((part): part is string => !!part).join(' ');
  return {
    contentUrl: item.url,
    imageId: item.id,
    ...(item.foreign_landing_url ? { hostPageUrl: item.foreign_landing_url } : {}),
    ...(item.thumbnail ? { thumbnailUrl: item.thumbnail } : {}),
    ...(license ? { license } : {}),
    ...(item.license_url ? { licenseUrl: item.license_url } : {}),
    ...(item.creator ? { creator: item.creator } : {}),
    ...(item.attribution ? { attribution: item.attribution } : {}),
    ...(typeof item.width === 'number' ? { width: item.width } : {}),
    ...(typeof item.height === 'number' ? { height: item.height } : {}),
    ...(item.filetype ? { encodingFormat: item.filetype } : {}),
  };
}

/** Openverse has no pixel-size filter, so minWidth/minHeight apply here; unknown sizes pass (the downloader checks). */
function largeEnough(result: ImageResult, filters: SearchFilters): boolean {
  return (
    (filters.minWidth === undefined || result.width === undefined || result.width >= filters.minWidth) &&
    (filters.minHeight === undefined || result.height === undefined || result.height >= filters.minHeight)
  );
}

/** 429 and 5xx (and 408) are worth retrying, honouring Retry-After; so are broken connections and timeouts. */
function classify(error: unknown): RetryVerdict {
  if (error instanceof OpenverseHttpError) {
    if (error.status === 408 || error.status === 429 || error.status >= 500) {
      const retryAfterInMs = parseRetryAfter(error.retryAfter);
      return retryAfterInMs !== undefined ? { retry: true, retryAfterInMs } : { retry: true };
    }
    return { retry: false };
  }
  if (error instanceof Error && error.name === 'TimeoutError') return { retry: true };
  const code = networkCodeOf(error);
  return { retry: code !== undefined && TRANSIENT_NETWORK_CODES.has(code) };
}

/** Openverse's error bodies are JSON with `detail` (DRF); 5xx pages are HTML, of which a short excerpt will do. */
function detailOf(text: string): string {
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json === 'object' && json !== null && 'detail' in json) {
      const detail = json.detail;
      return typeof detail === 'string' ? detail : JSON.stringify(detail);
    }
    return JSON.stringify(json).slice(0, 200);
  } catch {
    return text
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 200);
  }
}

/** fetch fails with TypeError('fetch failed') whose cause carries the system code (ECONNREFUSED...). */
function networkCodeOf(error: unknown): string | undefined {
  const cause: unknown = error instanceof Error ? error.cause : undefined;
  for (const candidate of [cause, error]) {
    if (typeof candidate === 'object' && candidate !== null && 'code' in candidate) {
      const code = candidate.code;
      if (typeof code === 'string') return code;
    }
  }
  return undefined;
}
