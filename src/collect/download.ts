// Downloads one search result's image without letting a search result aim the worker at the inside of
// its own network (SSRF), without hanging on slow servers and without reading more than a size limit.
//
// Uses node:http/node:https directly rather than fetch: only they take a socket `lookup` hook, which is
// where DNS answers are checked, so the address checked is the address connected to (no DNS-rebinding
// gap between a check and the connection).

import { type LookupAddress, type LookupOptions, promises as dnsPromises } from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';

import ipaddr from 'ipaddr.js';

import { AppError, messageOf } from '../errors';
import { type DownloadedImage, type DownloadOptions, DownloadRefusedError } from './types';

export const USER_AGENT = 'image-classifier-functions/0.1 (+collect)';

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

// ---------------------------------------------------------------------------------------------------
// Address policy

/**
 * The ipaddr.js range an address falls in, after looking inside IPv6 forms that embed an IPv4 address
 * (mapped, translated, NAT64, 6to4, Teredo, IPv4-compatible), so that ::ffff:127.0.0.1 or
 * 2002:7f00:1:: are judged as the IPv4 address they reach. 'unicast' means public unicast; anything else
 * (including 'invalid' for a string that is not an address) is not.
 */
export function addressRange(ip: string): string {
  // Zone ids (fe80::1%eth0) are kept by ipaddr.js and do not change the range.
  if (!ipaddr.isValid(ip)) return 'invalid';
  const address = ipaddr.parse(ip);
  if (address.kind() === 'ipv4') return address.range();
  return ipv6Range(address as ipaddr.IPv6);
}

function ipv6Range(address: ipaddr.IPv6): string {
  const p = address.parts;
  const v4 = (hi: number, lo: number): ipaddr.IPv4 => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const range = address.range();
  switch (range) {
    case 'ipv4Mapped': // ::ffff:a.b.c.d
    case 'rfc6145': // ::ffff:0:a.b.c.d
    case 'rfc6052': // 64:ff9b::a.b.c.d (NAT64 well-known prefix)
      return embedded(range, v4(p[6]!, p[7]!));
    case '6to4': // 2002:AABB:CCDD::/48 routes to a.b.c.d
      return embedded(range, v4(p[1]!, p[2]!));
    case 'teredo': {
      // 2001:0:SSSS:SSSS:flags:port:~CCCC:~CCCC: both the server and the (obfuscated) client address.
      const server = v4(p[2]!, p[3]!).range();
      if (server !== 'unicast') return `teredo(${server})`;
      return embedded(range, v4(~p[6]! & 0xffff, ~p[7]! & 0xffff));
    }
    case 'unicast':
      break;
    default:
      return range;
  }
  // Ranges ipaddr.js does not name: deprecated IPv4-compatible ::a.b.c.d (::/96) and the NAT64
  // local-use prefix 64:ff9b:1::/48 (RFC 8215). Neither belongs on a public image URL.
  if (p.slice(0, 6).every((part) => part === 0)) return 'ipv4Compatible';
  if (p[0] === 0x64 && p[1] === 0xff9b && p[2] === 1) return 'nat64LocalUse';
  // The deprecated site-local fec0::/10 (RFC 3879), which ipaddr.js counts as unicast; and, generally, anything
  // outside the global unicast block 2000::/3 that IANA allocates from.
  if ((p[0]! & 0xffc0) === 0xfec0) return 'siteLocal';
  if ((p[0]! & 0xe000) !== 0x2000) return 'notGlobalUnicast';
  return 'unicast';
}

function embedded(wrapper: string, inner: ipaddr.IPv4): string {
  const range = inner.range();
  return range === 'unicast' ? 'unicast' : `${wrapper}(${range})`;
}

/** True unless `ip` is a public unicast address (also true for strings that are not addresses). */
export function isBlockedAddress(ip: string): boolean {
  return addressRange(ip) !== 'unicast';
}

// ---------------------------------------------------------------------------------------------------
// URL policy

/** A URL's hostname as Node's socket layer wants it: IPv6 literals without their brackets. */
function socketHost(url: URL): string {
  return url.hostname.startsWith('[') && url.hostname.endsWith(']') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * Parses and checks one hop's URL: http(s) only, no credentials, and, when the host is an IP literal,
 * that the address is allowed (Node does not call the `lookup` hook for literals, so they are checked
 * here). The WHATWG parser has already normalised odd IPv4 spellings (2130706433, 0x7f.1) to dotted form.
 */
export function checkUrl(url: string | URL, isBlocked: (ip: string) => boolean = isBlockedAddress): URL {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : new URL(url.href);
  } catch {
    throw new DownloadRefusedError('bad-url', `Not a valid URL: ${JSON.stringify(String(url))}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new DownloadRefusedError(
      'bad-url',
      `Only http: and https: URLs are downloaded, not ${parsed.protocol} (${redact(parsed)})`,
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    // Credentials would be sent to whoever the search result names; never forward them.
    throw new DownloadRefusedError('bad-url', `URL carries credentials, refused: ${redact(parsed)}`);
  }
  if (parsed.hostname === '') throw new DownloadRefusedError('bad-url', `URL has no host: ${redact(parsed)}`);
  const host = socketHost(parsed);
  if (isIP(host) !== 0 && isBlocked(host)) {
    throw new DownloadRefusedError(
      'blocked-address',
      `${redact(parsed)} targets ${host}, which is not a public address (${addressRange(host)})`,
    );
  }
  return parsed;
}

/** The URL for messages, without credentials. */
function redact(url: URL): string {
  if (url.username === '' && url.password === '') return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

// ---------------------------------------------------------------------------------------------------
// DNS guard

/** Resolves a hostname to all its addresses (dns.promises.lookup by default; tests inject fakes). */
export type Resolver = (hostname: string, options: { family: 0 | 4 | 6; hints?: number }) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname, options) => dnsPromises.lookup(hostname, { ...options, all: true });

/** Raised inside the socket's lookup when DNS answers with a non-public address. */
export class BlockedAddressError extends AppError {
  override name = 'BlockedAddressError';
  readonly kind = 'download-refused';
  /** Node-style, as the socket's lookup reports errors (not an ErrorKind). */
  readonly code = 'ERR_BLOCKED_ADDRESS';
  constructor(
    readonly hostname: string,
    readonly address: string,
  ) {
    super(`${hostname} resolves to ${address}, which is not a public address (${addressRange(address)})`);
  }
}

function lookupFamily(family: LookupOptions['family']): 0 | 4 | 6 {
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return 0;
}

/**
 * A socket `lookup` hook that resolves, then refuses the connection when any answer is not allowed.
 * Any, not just the first: a name that answers with both a public and a private address is not one to
 * trust, and Node may try each in turn (autoSelectFamily). Serves both callback shapes Node uses:
 * `all: true` (address list) and the single address plus family.
 */
export function createGuardedLookup(
  isBlocked: (ip: string) => boolean = isBlockedAddress,
  resolve: Resolver = systemResolver,
): LookupFunction {
  return (hostname, options, callback) => {
    const request = {
      family: lookupFamily(options.family),
      ...(options.hints !== undefined ? { hints: options.hints } : {}),
    };
    resolve(hostname, request).then(
      (addresses) => {
        const first = addresses[0];
        if (first === undefined) {
          const err: NodeJS.ErrnoException = new Error(`${hostname} did not resolve to any address`);
          err.code = 'ENOTFOUND';
          callback(err, '');
          return;
        }
        const blocked = addresses.find((a) => isBlocked(a.address));
        if (blocked !== undefined) {
          callback(new BlockedAddressError(hostname, blocked.address), '');
          return;
        }
        if (options.all === true) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}

// ---------------------------------------------------------------------------------------------------
// Content sniffing

/** The image format the bytes are, from their magic numbers: jpeg, png, gif, webp, tiff, bmp, avif. */
export function sniffImageFormat(bytes: Uint8Array): string | undefined {
  const ascii = (start: number, end: number): string => Buffer.from(bytes.subarray(start, end)).toString('latin1');
  const b = (i: number): number => bytes[i] ?? -1;
  if (b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'jpeg';
  if (ascii(0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  // Classic TIFF (42) and BigTIFF (43), either byte order.
  const tiff = ascii(0, 4);
  if (tiff === 'II*\0' || tiff === 'MM\0*' || tiff === 'II+\0' || tiff === 'MM\0+') return 'tiff';
  // "BM" alone is too weak (plain text can start with it): also require a known DIB header size.
  if (ascii(0, 2) === 'BM' && bytes.length >= 18) {
    const dibSize = Buffer.from(bytes.subarray(14, 18)).readUInt32LE(0);
    if ([12, 16, 40, 52, 56, 64, 108, 124].includes(dibSize)) return 'bmp';
  }
  const brands = ftypBrands(bytes);
  if (brands !== undefined && (brands.includes('avif') || brands.includes('avis'))) return 'avif';
  return undefined;
}

/** Major and compatible brands of a leading ISO-BMFF `ftyp` box, if there is one. */
function ftypBrands(bytes: Uint8Array): string[] | undefined {
  if (bytes.length < 16) return undefined;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.toString('latin1', 4, 8) !== 'ftyp') return undefined;
  const boxSize = Math.min(buf.readUInt32BE(0), buf.length);
  const brands = [buf.toString('latin1', 8, 12)];
  // Skip minor_version (12..16); compatible brands follow, four bytes each.
  for (let i = 16; i + 4 <= boxSize; i += 4) brands.push(buf.toString('latin1', i, i + 4));
  return brands;
}

/** What bytes that are not an accepted image look like, for the refusal message. Cheap guesses only. */
export function describeContent(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'an empty body';
  const head = Buffer.from(bytes.subarray(0, 1024)).toString('latin1');
  const text = head
    .replace(/^\xef\xbb\xbf/, '')
    .trimStart()
    .toLowerCase();
  if (text.startsWith('<!doctype html') || /<(html|head|body)[\s>]/.test(text)) return 'an HTML page';
  if (text.startsWith('<svg') || (text.startsWith('<') && text.includes('<svg'))) return 'an SVG document';
  if (text.startsWith('<?xml')) return 'an XML document';
  if (text.startsWith('{') || text.startsWith('[')) return 'JSON';
  if (head.startsWith('%PDF')) return 'a PDF document';
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'gzip-compressed data';
  const brands = ftypBrands(bytes);
  if (brands !== undefined) return `an ISO-BMFF file (brands ${brands.join(', ')}), not AVIF`;
  // eslint-disable-next-line no-control-regex -- tab, LF and CR are what plain text may hold besides printable ASCII
  if (/^[\x09\x0a\x0d\x20-\x7e]+$/.test(head)) return 'plain text';
  return `unrecognised bytes (starting ${Buffer.from(bytes.subarray(0, 8)).toString('hex')})`;
}

// ---------------------------------------------------------------------------------------------------
// Download

/** Test seams: a different address policy (to let a loopback test server through) and resolver. */
export interface DownloadHooks {
  isBlockedAddress?: (ip: string) => boolean;
  resolve?: Resolver;
}

type Hop =
  { kind: 'redirect'; status: number; location: string } | { kind: 'body'; body: Buffer; contentType?: string };

interface HopContext {
  options: DownloadOptions;
  signal: AbortSignal;
  /** Undefined when private addresses are allowed: Node's own lookup then. */
  lookup: LookupFunction | undefined;
}

/**
 * Downloads `url` (following redirects) and returns its bytes if they are an image.
 * Throws DownloadRefusedError naming the problem; when `options.signal` aborts, rejects with the
 * signal's reason instead (cancellation is not a per-result skip).
 */
export async function downloadImage(
  url: string,
  options: DownloadOptions,
  hooks: DownloadHooks = {},
): Promise<DownloadedImage> {
  validateOptions(options);
  options.signal?.throwIfAborted();

  const isBlocked = options.allowPrivateAddresses ? () => false : (hooks.isBlockedAddress ?? isBlockedAddress);
  const lookup =
    options.allowPrivateAddresses && hooks.resolve === undefined
      ? undefined
      : createGuardedLookup(isBlocked, hooks.resolve);

  // One controller for both ways a download ends early: the overall deadline and the caller's signal.
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(
      new DownloadRefusedError('timeout', `Download of ${url} did not finish within ${options.timeoutInMs} ms`),
    );
  }, options.timeoutInMs);
  const onCallerAbort = (): void => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onCallerAbort, { once: true });

  try {
    let current = checkUrl(url, isBlocked);
    for (let redirects = 0; ; redirects++) {
      const hop = await fetchOnce(current, { options, signal: controller.signal, lookup });
      if (hop.kind === 'body') return toImage(hop, current);
      if (redirects >= options.maxRedirects) {
        throw new DownloadRefusedError(
          'too-many-redirects',
          `${url} redirected more than ${options.maxRedirects} time(s) (last: HTTP ${hop.status} from ${redact(current)})`,
        );
      }
      let next: URL;
      try {
        next = new URL(hop.location, current); // relative Locations resolve against the current URL
      } catch {
        throw new DownloadRefusedError(
          'bad-url',
          `${redact(current)} redirected to an invalid Location: ${JSON.stringify(hop.location)}`,
        );
      }
      // Every hop gets the same checks as the first. https -> http downgrades are followed: http: is
      // accepted as a starting URL anyway, nothing secret is sent, and the bytes are sniffed regardless.
      current = checkUrl(next, isBlocked);
      controller.signal.throwIfAborted();
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onCallerAbort);
  }
}

function validateOptions(options: DownloadOptions): void {
  if (!(options.timeoutInMs > 0) || !Number.isFinite(options.timeoutInMs))
    throw new RangeError(`timeoutInMs must be positive, got ${options.timeoutInMs}`);
  if (!(options.maxBytes >= 0)) throw new RangeError(`maxBytes must be >= 0, got ${options.maxBytes}`);
  if (!Number.isInteger(options.maxRedirects) || options.maxRedirects < 0) {
    throw new RangeError(`maxRedirects must be a non-negative integer, got ${options.maxRedirects}`);
  }
}

function toImage(hop: { body: Buffer; contentType?: string }, finalUrl: URL): DownloadedImage {
  const format = sniffImageFormat(hop.body);
  if (format === undefined) {
    const served = hop.contentType !== undefined ? ` (served as ${hop.contentType})` : '';
    throw new DownloadRefusedError(
      'not-an-image',
      `${redact(finalUrl)} is not an image: it looks like ${describeContent(hop.body)}${served}`,
    );
  }
  return {
    content: hop.body,
    finalUrl: finalUrl.href,
    format,
    ...(hop.contentType !== undefined ? { contentType: hop.contentType } : {}),
  };
}

function parseContentLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}

/** Maps whatever ended a request to the refusal the caller sees. */
function toRefusal(err: unknown, url: URL): Error {
  if (err instanceof DownloadRefusedError) return err;
  if (
    err instanceof BlockedAddressError ||
    (err instanceof Error && (err as NodeJS.ErrnoException).code === 'ERR_BLOCKED_ADDRESS')
  ) {
    return new DownloadRefusedError('blocked-address', `${redact(url)} refused: ${err.message}`);
  }
  const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  const message = messageOf(err);
  return new DownloadRefusedError(
    'network-error',
    `Could not download ${redact(url)}: ${code !== undefined && !message.includes(code) ? `${code} ` : ''}${message}`,
  );
}

/** One request: resolves with a redirect to follow or the full body of a 2xx response. */
function fetchOnce(target: URL, ctx: HopContext): Promise<Hop> {
  const { options, signal } = ctx;
  return new Promise<Hop>((resolve, reject) => {
    let settled = false;
    const settle = (action: () => void): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      action();
    };
    // The deadline or the caller's abort wins over whatever error destroying the socket then causes.
    const fail = (err: unknown): void =>
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- as documented (and as fetch does): the signal's own reason
      settle(() => reject(signal.aborted ? signal.reason : toRefusal(err, target)));

    const requestOptions: https.RequestOptions = {
      protocol: target.protocol,
      hostname: socketHost(target),
      port: target.port === '' ? undefined : Number(target.port),
      path: `${target.pathname}${target.search}`,
      method: 'GET',
      headers: {
        'User-Agent': USER_AGENT,
        Accept: 'image/avif,image/webp,image/png,image/jpeg,image/*;q=0.8,*/*;q=0.5',
        // Ask for identity so the byte counts and the limit apply to the image itself.
        'Accept-Encoding': 'identity',
      },
      // A fresh socket per hop, so every connection goes through the lookup hook (no pooled socket).
      agent: false,
      ...(ctx.lookup !== undefined ? { lookup: ctx.lookup } : {}),
    };
    const req = target.protocol === 'https:' ? https.request(requestOptions) : http.request(requestOptions);

    const onAbort = (): void => {
      fail(signal.reason);
      req.destroy();
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });

    // Kept attached after settling: destroying the request emits late errors that must not go unhandled.
    req.on('error', fail);
    req.on('response', (res) => {
      res.on('error', fail);
      const status = res.statusCode ?? 0;
      if (REDIRECT_STATUSES.has(status)) {
        const location = res.headers.location;
        if (location === undefined || location === '') {
          fail(
            new DownloadRefusedError('http-error', `HTTP ${status} from ${redact(target)} without a Location header`),
          );
        } else {
          settle(() => resolve({ kind: 'redirect', status, location }));
        }
        req.destroy(); // the redirect's body is not needed
        return;
      }
      if (status < 200 || status > 299) {
        fail(
          new DownloadRefusedError(
            'http-error',
            `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''} from ${redact(target)}`,
          ),
        );
        req.destroy();
        return;
      }
      const declared = parseContentLength(res.headers['content-length']);
      if (declared !== undefined && declared > options.maxBytes) {
        fail(
          new DownloadRefusedError(
            'too-large',
            `${redact(target)} declares ${declared} bytes, over the ${options.maxBytes}-byte limit`,
          ),
        );
        req.destroy(); // before reading any of the body
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        received += chunk.length;
        if (received > options.maxBytes) {
          fail(
            new DownloadRefusedError(
              'too-large',
              `${redact(target)} sent more than the ${options.maxBytes}-byte limit`,
            ),
          );
          req.destroy(); // stop reading now, not at the end of the body
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        const contentType = res.headers['content-type'];
        settle(() =>
          resolve({
            kind: 'body',
            body: Buffer.concat(chunks, received),
            ...(contentType !== undefined ? { contentType } : {}),
          }),
        );
      });
      res.on('close', () => {
        if (!res.complete) fail(new Error('connection closed before the body was complete'));
      });
    });
    req.end();
  });
}
