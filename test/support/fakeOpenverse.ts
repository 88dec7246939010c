// A fake Openverse API on 127.0.0.1: GET /v1/images/ with the real API's parameters, limits and response shape
// (result_count, page_count, page_size, page, results[]), licence groups as the API defines them, and the images
// themselves, served so that a downloader can fetch what a search found.
import type * as http from 'node:http';

import {
  type CommonFailure,
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

export type { RecordedRequest };

export const OPENVERSE_SEARCH_PATH = '/v1/images/';
/** Openverse's limits for anonymous clients: larger page_size is a 401, a later page a 400. */
export const OPENVERSE_MAX_ANONYMOUS_PAGE_SIZE = 20;
export const OPENVERSE_MAX_PAGINATION_DEPTH = 20;

export type OpenverseLicense =
  'by' | 'by-sa' | 'by-nd' | 'by-nc' | 'by-nc-sa' | 'by-nc-nd' | 'cc0' | 'pdm' | 'sampling+' | 'nc-sampling+';
const ALL_LICENSES: readonly OpenverseLicense[] = [
  'by',
  'by-sa',
  'by-nd',
  'by-nc',
  'by-nc-sa',
  'by-nc-nd',
  'cc0',
  'pdm',
  'sampling+',
  'nc-sampling+',
];
// As in the API's constants: commercial use excludes the NC licences, modification the ND ones.
const LICENSE_GROUPS: Record<string, ReadonlySet<OpenverseLicense>> = {
  all: new Set(ALL_LICENSES),
  'all-cc': new Set(ALL_LICENSES.filter((l) => l !== 'pdm')),
  commercial: new Set(ALL_LICENSES.filter((l) => !l.includes('nc'))),
  modification: new Set(ALL_LICENSES.filter((l) => !l.includes('nd'))),
};

export interface FakeOpenverseImage {
  id: string;
  bytes: Buffer;
  /** null where Openverse does not know (it often does not). */
  width: number | null;
  height: number | null;
  title?: string;
  creator?: string;
  license?: OpenverseLicense;
  licenseVersion?: string;
  /** Put in the result instead of this server's URL (e.g. a private address to test an SSRF guard). */
  url?: string;
  /** Sensitive results are left out unless the request says mature=true. */
  mature?: boolean;
  /** Defaults to the extension of the sniffed format; null as the API sends when it does not know. */
  filetype?: string | null;
  category?: 'photograph' | 'illustration' | 'digitized_artwork' | null;
}

export type FakeOpenverseCatalog = (query: string) => FakeOpenverseImage[];

/**
 * Throttle is a 429 as Django REST framework's throttling answers it, server-error a 5xx with Django's HTML error
 * page, and reset and hang act on the connection (see fakeHttp).
 */
export type ScriptedFailure =
  | CommonFailure
  /** 401 as for a bad or expired token. */
  | { kind: 'unauthorized' };

export interface FakeOpenverseOptions {
  catalog?: FakeOpenverseCatalog;
}

export interface FakeOpenverse {
  /** The origin to give the provider, e.g. http://127.0.0.1:12345. */
  readonly endpoint: string;
  url(path: string): string;
  readonly requests: RecordedRequest[];
  searchRequests(): RecordedRequest[];
  /** Answers the next `count` search requests with `failure`; scripts queue up in order. */
  failNext(count: number, failure: ScriptedFailure): void;
  setCatalog(catalog: FakeOpenverseCatalog): void;
  close(): Promise<void>;
}

export async function startFakeOpenverse(options: FakeOpenverseOptions = {}): Promise<FakeOpenverse> {
  let catalog: FakeOpenverseCatalog = options.catalog ?? (() => []);
  const script = new FailureScript<ScriptedFailure>();
  const served = new Map<string, FakeOpenverseImage>();
  const server = await startRecordingServer((req, res, url) => {
    if (url.pathname === OPENVERSE_SEARCH_PATH) {
      if (req.method !== 'GET') return sendJson(res, 405, { detail: `Method "${req.method}" not allowed.` });
      const failure = script.next();
      if (failure) return sendFailure(res, failure);
      return search(url.searchParams, res);
    }
    // Django appends the slash with a redirect, as the real API does for /v1/images.
    if (url.pathname === '/v1/images') {
      res.writeHead(301, { Location: `${OPENVERSE_SEARCH_PATH}${url.search}` });
      res.end();
      return;
    }
    const media = /^\/(?:images\/([^/.]+)(?:\.[a-z0-9]+)?|v1\/images\/([^/]+)\/thumb\/)$/.exec(url.pathname);
    if (media && req.method === 'GET') {
      const found = served.get(decodeURIComponent(media[1] ?? media[2]!));
      if (!found) return sendJson(res, 404, { detail: 'Not found.' });
      return sendImage(res, found.bytes, openverseFormatOf(found.bytes));
    }
    const landing = /^\/landing\/([^/]+)$/.exec(url.pathname);
    if (landing && req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>Landing page</title>');
      return;
    }
    return sendJson(res, 404, { detail: 'Not found.' });
  });
  const { origin } = server;

  function search(params: URLSearchParams, res: http.ServerResponse): void {
    const pageSize = integerParam(params, 'page_size', OPENVERSE_MAX_ANONYMOUS_PAGE_SIZE);
    const page = integerParam(params, 'page', 1);
    if (pageSize === 'invalid' || pageSize < 1)
      return inputError(res, 'page_size', 'Ensure this value is greater than or equal to 1.');
    if (page === 'invalid' || page < 1)
      return inputError(res, 'page', 'Ensure this value is greater than or equal to 1.');
    // The API raises NotAuthenticated for an anonymous page_size over the limit: a 401, not a 400.
    if (pageSize > OPENVERSE_MAX_ANONYMOUS_PAGE_SIZE) {
      return sendJson(res, 401, {
        detail: `Ensure this value is less than or equal to ${OPENVERSE_MAX_ANONYMOUS_PAGE_SIZE}.`,
      });
    }
    if (page > OPENVERSE_MAX_PAGINATION_DEPTH) {
      return inputError(res, 'page', `Ensure this value is less than or equal to ${OPENVERSE_MAX_PAGINATION_DEPTH}.`);
    }
    let allowed: Set<OpenverseLicense> = new Set(ALL_LICENSES);
    const licenseType = params.get('license_type');
    if (licenseType !== null) {
      for (const type of licenseType.toLowerCase().split(',')) {
        const group = LICENSE_GROUPS[type];
        if (!group) return inputError(res, 'license_type', `License type '${type}' does not exist.`);
        allowed = new Set([...allowed].filter((l) => group.has(l)));
      }
    }
    const mature = params.get('mature');
    if (mature !== null && !['true', 'false', '1', '0'].includes(mature.toLowerCase())) {
      return inputError(res, 'mature', 'Must be a valid boolean.');
    }
    const includeMature = mature === 'true' || mature === '1';
    const category = params.get('category');

    const q = params.get('q') ?? '';
    const all = catalog(q).filter(
      (image) =>
        allowed.has(image.license ?? 'by') &&
        (includeMature || !image.mature) &&
        (category === null || category.split(',').includes(image.category ?? '')),
    );
    for (const image of all) served.set(image.id, image);
    const pageCount = Math.min(Math.ceil(all.length / pageSize), OPENVERSE_MAX_PAGINATION_DEPTH);
    const results = all.slice((page - 1) * pageSize, page * pageSize).map((image) => mediaOf(image));
    sendJson(res, 200, { result_count: all.length, page_count: pageCount, page_size: pageSize, page, results });
  }

  function mediaOf(image: FakeOpenverseImage): Record<string, unknown> {
    const id = encodeURIComponent(image.id);
    const license = image.license ?? 'by';
    const version = image.licenseVersion ?? (license === 'pdm' || license === 'cc0' ? '1.0' : '4.0');
    const licenseUrl =
      license === 'cc0'
        ? 'https://creativecommons.org/publicdomain/zero/1.0/'
        : license === 'pdm'
          ? 'https://creativecommons.org/publicdomain/mark/1.0/'
          : `https://creativecommons.org/licenses/${license}/${version}/`;
    const title = image.title ?? `Image ${image.id}`;
    const creator = image.creator ?? 'Fake Photographer';
    const marked = license === 'cc0' || license === 'pdm';
    const sniffed = extensionOf(openverseFormatOf(image.bytes));
    return {
      id: image.id,
      title,
      indexed_on: '2024-05-01T00:00:00Z',
      foreign_landing_url: `${origin}/landing/${id}`,
      url: image.url ?? `${origin}/images/${id}.${sniffed}`,
      creator,
      creator_url: `${origin}/creators/${encodeURIComponent(creator)}`,
      license,
      license_version: version,
      license_url: licenseUrl,
      provider: 'fakeprovider',
      source: 'fakeprovider',
      category: image.category ?? null,
      filesize: image.bytes.length,
      filetype: image.filetype === undefined ? (sniffed === 'bin' ? null : sniffed) : image.filetype,
      tags: [],
      // Worded as the API's own examples word it: public-domain marks are "marked with", licences "licensed under".
      attribution: marked
        ? `"${title}" by ${creator} is marked with ${license.toUpperCase()} ${version}. To view the terms, visit ${licenseUrl}.`
        : `"${title}" by ${creator} is licensed under CC ${license.toUpperCase()} ${version}. To view a copy of this license, visit ${licenseUrl}.`,
      fields_matched: ['title'],
      mature: image.mature ?? false,
      height: image.height,
      width: image.width,
      thumbnail: `${origin}/v1/images/${id}/thumb/`,
      detail_url: `${origin}/v1/images/${id}/`,
      related_url: `${origin}/v1/images/${id}/related/`,
      unstable__sensitivity: [],
    };
  }

  return {
    endpoint: origin,
    url: server.url,
    requests: server.requests,
    searchRequests: () => server.requests.filter((r) => r.path === OPENVERSE_SEARCH_PATH),
    failNext: (count, failure) => script.add(count, failure),
    setCatalog(next) {
      catalog = next;
    },
    close: server.close,
  };
}

function integerParam(params: URLSearchParams, name: string, fallback: number): number | 'invalid' {
  const raw = params.get(name);
  if (raw === null) return fallback;
  return /^-?\d+$/.test(raw) ? Number(raw) : 'invalid';
}

/** The API's 400 for a parameter it rejects. */
function inputError(res: http.ServerResponse, field: string, message: string): void {
  sendJson(res, 400, {
    error: 'InputError',
    detail: `Invalid input given for fields. '${field}' -> ${message}`,
    fields: [field],
  });
}

function sendFailure(res: http.ServerResponse, failure: ScriptedFailure): void {
  switch (failure.kind) {
    case 'throttle': {
      const seconds = failure.retryAfterSeconds;
      return sendJson(
        res,
        429,
        {
          detail:
            seconds !== undefined
              ? `Request was throttled. Expected available in ${seconds} seconds.`
              : 'Request was throttled.',
        },
        retryAfterHeaders(seconds),
      );
    }
    case 'server-error': {
      const body = '<!doctype html><html><body><h1>Server Error (500)</h1></body></html>';
      res.writeHead(failure.status ?? 500, {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    case 'unauthorized':
      return sendJson(res, 401, { detail: 'Invalid token.' });
    default:
      return failConnection(res, failure);
  }
}

/** The sniffed format, where this fake knows no BMP: such bytes are 'unknown' (filetype null, application/octet-stream). */
function openverseFormatOf(bytes: Buffer): string {
  const format = formatOf(bytes);
  return format === 'bmp' ? 'unknown' : format;
}
