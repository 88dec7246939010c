// The contracts between collection's parts: search providers, the safe downloader, and the worker.
import type { CollectSettings } from '../config';
import { AppError } from '../errors';

/** Search filters a plan may set (Bing Image Search v7 names; providers map what they support). */
export interface SearchFilters {
  /** Bing imageType: Photo, Clipart, Line, AnimatedGif, Transparent... */
  imageType?: string;
  /** Off, Moderate, Strict. */
  safeSearch?: 'Off' | 'Moderate' | 'Strict';
  /** Bing license: All, Any, Public, Share, ShareCommercially, Modify, ModifyCommercially. */
  license?: string;
  minWidth?: number;
  minHeight?: number;
  /** Market code such as en-US. */
  market?: string;
  /** Day, Week, Month. */
  freshness?: 'Day' | 'Week' | 'Month';
  /** Openverse: require licences that allow commercial use and/or modification. */
  requireCommercialUse?: boolean;
  requireModification?: boolean;
}

export interface SearchRequest {
  query: string;
  /** How many results to return in all (providers page through as needed). */
  count: number;
  filters: SearchFilters;
  signal?: AbortSignal;
}

/** One image a search found. */
export interface ImageResult {
  /** Where the full image is (downloaded by the safe downloader), unless `content` is given. */
  contentUrl: string;
  /** Bytes already at hand (the offline provider generates them): no download happens. */
  content?: Buffer;
  hostPageUrl?: string;
  thumbnailUrl?: string;
  imageId?: string;
  encodingFormat?: string;
  width?: number;
  height?: number;
  /** Licence and attribution where the provider knows them (Openverse). */
  license?: string;
  licenseUrl?: string;
  creator?: string;
  attribution?: string;
}

export interface SearchResponse {
  results: ImageResult[];
  totalEstimatedMatches?: number;
}

export interface ImageSearchProvider {
  /** bing, openverse, offline. */
  readonly name: string;
  search(request: SearchRequest): Promise<SearchResponse>;
}

/** A search provider as the registry (providers/registry.ts) knows it: the name plans use, and how it is made. */
export interface SearchProviderDefinition<Name extends string = string> {
  readonly name: Name;
  /** Makes the provider from the settings; throws a ConfigurationError that names a setting it needs and lacks. */
  create(settings: CollectSettings): ImageSearchProvider;
}

/** A search provider's failure that names what to fix (a bad key, a bad endpoint). */
export class SearchProviderError extends AppError {
  override name = 'SearchProviderError';
  readonly kind = 'upstream-failed';
  /** Another try would fail the same way (an answer over the size limit): the query is recorded as failed at once. */
  readonly permanent: boolean;
  constructor(
    message: string,
    readonly statusCode?: number,
    options: { permanent?: boolean } = {},
  ) {
    super(message);
    this.permanent = options.permanent ?? false;
  }
}

/** Why a download was refused; recorded per result in the run's report. */
export type DownloadSkipReason =
  | 'blocked-address'
  | 'bad-url'
  | 'too-many-redirects'
  | 'http-error'
  | 'timeout'
  | 'too-large'
  | 'not-an-image'
  | 'network-error'
  | 'already-downloaded'
  /** A text field of the search result is not valid Unicode (a lone UTF-16 surrogate): it cannot be recorded. */
  | 'malformed-result';

export class DownloadRefusedError extends AppError {
  override name = 'DownloadRefusedError';
  readonly kind = 'download-refused';
  constructor(
    readonly reason: DownloadSkipReason,
    message: string,
  ) {
    super(message);
  }
}

export interface DownloadOptions {
  timeoutInMs: number;
  maxBytes: number;
  maxRedirects: number;
  /** Allow private, loopback and link-local targets (tests and on-premises sources only). */
  allowPrivateAddresses: boolean;
  signal?: AbortSignal;
}

export interface DownloadedImage {
  content: Buffer;
  /** The URL after redirects. */
  finalUrl: string;
  /** Sniffed from the bytes: jpeg, png, gif, webp, tiff, bmp, avif. */
  format: string;
  /** The server's Content-Type, for the record only. */
  contentType?: string;
}
