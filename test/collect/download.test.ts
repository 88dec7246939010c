import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  addressRange,
  checkUrl,
  createGuardedLookup,
  describeContent,
  downloadImage,
  isBlockedAddress,
  type Resolver,
  sniffImageFormat,
  USER_AGENT,
} from '../../src/collect/download';
import { type DownloadOptions, DownloadRefusedError, type DownloadSkipReason } from '../../src/collect/types';

// Real HTTP servers on 127.0.0.1. The guard is on by default; tests that must reach the loopback server
// either set allowPrivateAddresses or pass a policy that exempts 127.0.0.1 alone (so 169.254.169.254,
// ::1 and the rest stay blocked and redirects to them are re-checked end to end).

const GUARDED: DownloadOptions = {
  timeoutInMs: 5_000,
  maxBytes: 1_000_000,
  maxRedirects: 3,
  allowPrivateAddresses: false,
};
const OPEN: DownloadOptions = { ...GUARDED, allowPrivateAddresses: true };
/** Blocks what the default policy blocks, except the loopback test server's own address. */
const exemptTestServer = (ip: string): boolean => ip !== '127.0.0.1' && isBlockedAddress(ip);

let jpeg: Buffer;
let server: http.Server;
let base: string;
let port: number;
const seen: { url: string; headers: http.IncomingHttpHeaders }[] = [];
const openResponses = new Set<http.ServerResponse>();

async function refusal(promise: Promise<unknown>): Promise<DownloadRefusedError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DownloadRefusedError) return err;
    throw err;
  }
  throw new Error('expected a DownloadRefusedError, but the download succeeded');
}

async function expectRefused(
  promise: Promise<unknown>,
  reason: DownloadSkipReason,
  message?: RegExp,
): Promise<DownloadRefusedError> {
  const err = await refusal(promise);
  expect(err.reason, err.message).toBe(reason);
  if (message) expect(err.message).toMatch(message);
  return err;
}

function hits(path: string): number {
  return seen.filter((s) => s.url.startsWith(path)).length;
}

beforeAll(async () => {
  jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 200, g: 30, b: 30 } } })
    .jpeg()
    .toBuffer();
  server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    seen.push({ url, headers: req.headers });
    const chain = /^\/chain\/(\d+)$/.exec(url);
    if (url === '/image.jpg') {
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length }).end(jpeg);
    } else if (url === '/redirect') {
      res.writeHead(302, { Location: 'image.jpg' }).end(); // relative
    } else if (chain) {
      res.writeHead(301, { Location: `/chain/${Number(chain[1]) + 1}` }).end();
    } else if (url === '/to-metadata') {
      res.writeHead(302, { Location: 'http://169.254.169.254/latest/meta-data/' }).end();
    } else if (url === '/to-v6-loopback') {
      res.writeHead(307, { Location: `http://[::1]:${port}/image.jpg` }).end();
    } else if (url === '/to-metadata-name') {
      res.writeHead(308, { Location: `http://metadata.example:${port}/image.jpg` }).end();
    } else if (url === '/to-ftp') {
      res.writeHead(302, { Location: 'ftp://example.com/image.jpg' }).end();
    } else if (url === '/declared-huge') {
      // Headers promise 50 MB; a few bytes follow and the response stays open.
      openResponses.add(res);
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': 50_000_000 });
      res.write(jpeg.subarray(0, 16));
    } else if (url === '/chunked-huge') {
      // No Content-Length: chunks keep coming until the client hangs up.
      openResponses.add(res);
      res.writeHead(200, { 'Content-Type': 'image/jpeg' });
      const chunk = Buffer.alloc(16 * 1024, 0xab);
      const timer = setInterval(() => res.write(chunk), 5);
      res.on('close', () => clearInterval(timer));
    } else if (url === '/trickle') {
      openResponses.add(res);
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length });
      let i = 0;
      const timer = setInterval(() => {
        if (i < jpeg.length) res.write(jpeg.subarray(i, ++i));
      }, 100);
      res.on('close', () => clearInterval(timer));
    } else if (url === '/html-as-jpeg') {
      res.writeHead(200, { 'Content-Type': 'image/jpeg' }).end('<!DOCTYPE html><html><body>Not found</body></html>');
    } else if (url === '/svg') {
      res
        .writeHead(200, { 'Content-Type': 'image/svg+xml' })
        .end('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>');
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('nope');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const res of openResponses) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('downloadImage: success', () => {
  it('downloads a JPEG and sniffs its format; sends the User-Agent and asks for identity encoding', async () => {
    const image = await downloadImage(`${base}/image.jpg`, OPEN);
    expect(image.format).toBe('jpeg');
    expect(image.content.equals(jpeg)).toBe(true);
    expect(image.finalUrl).toBe(`${base}/image.jpg`);
    expect(image.contentType).toBe('image/jpeg');
    const request = seen.filter((s) => s.url === '/image.jpg').pop();
    expect(request?.headers['user-agent']).toBe(USER_AGENT);
    expect(request?.headers['accept-encoding']).toBe('identity');
  });

  it('follows a relative redirect and reports the final URL', async () => {
    const image = await downloadImage(`${base}/redirect`, OPEN);
    expect(image.format).toBe('jpeg');
    expect(image.finalUrl).toBe(`${base}/image.jpg`);
  });

  it('works with the guard on when the policy lets the test server through', async () => {
    const image = await downloadImage(`${base}/redirect`, GUARDED, { isBlockedAddress: exemptTestServer });
    expect(image.finalUrl).toBe(`${base}/image.jpg`);
  });
});

describe('downloadImage: SSRF guard', () => {
  it('refuses a loopback literal without connecting', async () => {
    const before = hits('/x');
    await expectRefused(downloadImage(`${base}/x`, GUARDED), 'blocked-address', /127\.0\.0\.1.*loopback/);
    expect(hits('/x')).toBe(before);
  });

  it('refuses the metadata address literally, without any connection attempt', async () => {
    // A connection attempt could only end in a timeout or network-error; blocked-address within
    // milliseconds shows the literal check refused it first (Node never calls lookup for literals).
    const started = Date.now();
    await expectRefused(
      downloadImage('http://169.254.169.254/latest/meta-data/', { ...GUARDED, timeoutInMs: 10_000 }),
      'blocked-address',
      /169\.254\.169\.254.*linkLocal/,
    );
    expect(Date.now() - started).toBeLessThan(200);
  });

  it('refuses IPv6 loopback and IPv4-mapped loopback literals', async () => {
    const before = seen.length;
    await expectRefused(downloadImage(`http://[::1]:${port}/image.jpg`, GUARDED), 'blocked-address', /::1.*loopback/);
    await expectRefused(
      downloadImage(`http://[::ffff:127.0.0.1]:${port}/image.jpg`, GUARDED),
      'blocked-address',
      /ipv4Mapped\(loopback\)/,
    );
    // Odd IPv4 spellings are normalised by the URL parser before the check.
    await expectRefused(downloadImage(`http://2130706433:${port}/image.jpg`, GUARDED), 'blocked-address');
    await expectRefused(downloadImage(`http://0x7f.1:${port}/image.jpg`, GUARDED), 'blocked-address');
    expect(seen.length).toBe(before);
  });

  it('refuses a hostname that resolves to loopback (localhost) in the lookup hook', async () => {
    const before = hits('/image.jpg');
    await expectRefused(
      downloadImage(`http://localhost:${port}/image.jpg`, GUARDED),
      'blocked-address',
      /localhost resolves to .*loopback/,
    );
    expect(hits('/image.jpg')).toBe(before);
    // The https transport takes the same hook (nothing listens on port 1: refused before connecting).
    await expectRefused(
      downloadImage('https://localhost:1/image.jpg', GUARDED),
      'blocked-address',
      /localhost resolves to/,
    );
  });

  it('refuses a hostname whose DNS answer is the metadata address (injected resolver)', async () => {
    const resolve: Resolver = async () => [{ address: '169.254.169.254', family: 4 }];
    await expectRefused(
      downloadImage('http://metadata.example/latest/', GUARDED, { resolve }),
      'blocked-address',
      /metadata\.example resolves to 169\.254\.169\.254/,
    );
  });

  it('with allowPrivateAddresses the loopback server works (literal and localhost)', async () => {
    await expect(downloadImage(`${base}/image.jpg`, OPEN)).resolves.toMatchObject({ format: 'jpeg' });
    await expect(
      downloadImage(`http://localhost:${port}/image.jpg`, { ...OPEN, timeoutInMs: 5_000 }).catch((e: unknown) => e),
    ).resolves.toSatisfy(
      // localhost may resolve to ::1 first where IPv6 is up but the server only listens on IPv4.
      (r: unknown) =>
        (r as { format?: string }).format === 'jpeg' || (r as DownloadRefusedError).reason === 'network-error',
    );
  });

  it('re-checks every redirect hop: a public-looking server redirecting to the metadata address is refused', async () => {
    // metadata.example "resolves" to the metadata address: caught by the lookup hook on the second hop.
    const resolve: Resolver = async (hostname) => [
      { address: hostname === 'metadata.example' ? '169.254.169.254' : '93.184.216.34', family: 4 },
    ];
    const hooks = { isBlockedAddress: exemptTestServer, resolve };
    await expectRefused(downloadImage(`${base}/to-metadata`, GUARDED, hooks), 'blocked-address', /169\.254\.169\.254/);
    await expectRefused(downloadImage(`${base}/to-v6-loopback`, GUARDED, hooks), 'blocked-address', /::1/);
    const before = hits('/image.jpg');
    await expectRefused(
      downloadImage(`${base}/to-metadata-name`, GUARDED, hooks),
      'blocked-address',
      /metadata\.example resolves to 169\.254\.169\.254/,
    );
    expect(hits('/image.jpg')).toBe(before);
    await expectRefused(downloadImage(`${base}/to-ftp`, GUARDED, hooks), 'bad-url', /ftp:/);
  });
});

describe('downloadImage: limits and failures', () => {
  it('refuses a redirect chain longer than maxRedirects', async () => {
    await expectRefused(
      downloadImage(`${base}/chain/0`, { ...OPEN, maxRedirects: 3 }),
      'too-many-redirects',
      /more than 3/,
    );
    expect(hits('/chain/3')).toBeGreaterThan(0);
    expect(hits('/chain/4')).toBe(0);
    await expectRefused(downloadImage(`${base}/redirect`, { ...OPEN, maxRedirects: 0 }), 'too-many-redirects');
  });

  it('refuses a declared Content-Length over maxBytes without waiting for the body', async () => {
    const started = Date.now();
    await expectRefused(
      downloadImage(`${base}/declared-huge`, { ...OPEN, timeoutInMs: 10_000 }),
      'too-large',
      /declares 50000000 bytes/,
    );
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('stops reading a chunked body as soon as it passes maxBytes', async () => {
    await expectRefused(
      downloadImage(`${base}/chunked-huge`, { ...OPEN, maxBytes: 200_000 }),
      'too-large',
      /more than the 200000-byte limit/,
    );
  });

  it('cuts off a body that trickles past the overall deadline', async () => {
    const started = Date.now();
    await expectRefused(downloadImage(`${base}/trickle`, { ...OPEN, timeoutInMs: 500 }), 'timeout', /within 500 ms/);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('rejects with the caller signal reason when aborted', async () => {
    const controller = new AbortController();
    const pending = downloadImage(`${base}/trickle`, { ...OPEN, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await expect(downloadImage(`${base}/image.jpg`, { ...OPEN, signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('refuses HTML served as image/jpeg, and SVG', async () => {
    await expectRefused(
      downloadImage(`${base}/html-as-jpeg`, OPEN),
      'not-an-image',
      /an HTML page \(served as image\/jpeg\)/,
    );
    await expectRefused(downloadImage(`${base}/svg`, OPEN), 'not-an-image', /SVG/);
  });

  it('reports a 404 as http-error with the status', async () => {
    await expectRefused(downloadImage(`${base}/missing.jpg`, OPEN), 'http-error', /HTTP 404/);
  });

  it('refuses non-http URLs and URLs with credentials', async () => {
    await expectRefused(downloadImage('ftp://example.com/a.jpg', GUARDED), 'bad-url', /ftp:/);
    await expectRefused(downloadImage('file:///etc/passwd', GUARDED), 'bad-url');
    await expectRefused(downloadImage('not a url', GUARDED), 'bad-url');
    const err = await expectRefused(
      downloadImage('http://user:secret@example.com/a.jpg', GUARDED),
      'bad-url',
      /credentials/,
    );
    expect(err.message).not.toContain('secret');
  });

  it('reports a refused connection as network-error', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expectRefused(downloadImage(`http://127.0.0.1:${deadPort}/a.jpg`, OPEN), 'network-error', /ECONNREFUSED/);
  });
});

describe('address policy', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.1', 'multicast'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['192.0.2.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'uniqueLocal'],
    ['fd12:3456::1', 'uniqueLocal'],
    ['fe80::1', 'linkLocal'],
    ['fe80::1%eth0', 'linkLocal'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'ipv4Mapped(loopback)'],
    ['::ffff:169.254.169.254', 'ipv4Mapped(linkLocal)'],
    ['::ffff:0:10.0.0.1', 'rfc6145(private)'],
    ['64:ff9b::127.0.0.1', 'rfc6052(loopback)'],
    ['64:ff9b:1::1', 'nat64LocalUse'],
    ['2002:7f00:1::', '6to4(loopback)'],
    ['2002:a9fe:a9fe::1', '6to4(linkLocal)'],
    // Teredo: server 65.54.227.120, client ~(0x3fff, 0xfdd2) = 192.0.2.45 (documentation range).
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo(reserved)'],
    ['::7f00:1', 'ipv4Compatible'],
    ['2001:db8::1', 'reserved'],
    ['fec0::1', 'siteLocal'],
    ['feff:ffff::1', 'siteLocal'],
    ['4000::1', 'notGlobalUnicast'],
    ['e000::1', 'notGlobalUnicast'],
    ['not-an-ip', 'invalid'],
  ])('blocks %s (%s)', (ip, range) => {
    expect(addressRange(ip)).toBe(range);
    expect(isBlockedAddress(ip)).toBe(true);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '2002:808:808::1',
    '64:ff9b::8.8.8.8',
  ])('allows public %s', (ip) => {
    expect(addressRange(ip)).toBe('unicast');
    expect(isBlockedAddress(ip)).toBe(false);
  });

  it('checkUrl checks scheme, credentials and literal hosts', () => {
    expect(checkUrl('https://example.com/a.jpg').href).toBe('https://example.com/a.jpg');
    expect(checkUrl('http://8.8.8.8/a.jpg').hostname).toBe('8.8.8.8');
    expect(() => checkUrl('http://169.254.169.254/')).toThrow(DownloadRefusedError);
    expect(() => checkUrl('http://[fd00::1]/')).toThrow(/uniqueLocal/);
    expect(() => checkUrl('http://10.0.0.1/', () => false)).not.toThrow();
    expect(() => checkUrl('data:image/png;base64,AAAA')).toThrow(/data:/);
    expect(() => checkUrl('http://:pw@example.com/')).toThrow(/credentials/);
  });
});

describe('createGuardedLookup', () => {
  function run(
    lookup: ReturnType<typeof createGuardedLookup>,
    all: boolean,
  ): Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }> {
    return new Promise((resolve) =>
      lookup('images.example', { all }, (err, address, family) =>
        resolve({ err, address, ...(family !== undefined ? { family } : {}) }),
      ),
    );
  }

  it('passes public answers through in both callback shapes', async () => {
    const answers = [
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ];
    const lookup = createGuardedLookup(undefined, async () => answers);
    await expect(run(lookup, true)).resolves.toEqual({ err: null, address: answers });
    await expect(run(lookup, false)).resolves.toEqual({ err: null, address: '93.184.216.34', family: 4 });
  });

  it('refuses when any answer is not public (DNS rebinding to the metadata address)', async () => {
    const lookup = createGuardedLookup(undefined, async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '169.254.169.254', family: 4 },
    ]);
    const { err } = await run(lookup, true);
    expect(err?.code).toBe('ERR_BLOCKED_ADDRESS');
    expect(err?.message).toMatch(/images\.example resolves to 169\.254\.169\.254/);
  });

  it('passes resolver errors and empty answers on as lookup errors', async () => {
    const failing = createGuardedLookup(undefined, async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND images.example'), { code: 'ENOTFOUND' });
    });
    expect((await run(failing, false)).err?.code).toBe('ENOTFOUND');
    expect(
      (
        await run(
          createGuardedLookup(undefined, async () => []),
          false,
        )
      ).err?.code,
    ).toBe('ENOTFOUND');
  });
});

describe('content sniffing', () => {
  it('recognises the accepted formats from their bytes', async () => {
    const img = sharp({ create: { width: 4, height: 4, channels: 3, background: '#336699' } });
    expect(sniffImageFormat(jpeg)).toBe('jpeg');
    expect(sniffImageFormat(await img.clone().png().toBuffer())).toBe('png');
    expect(sniffImageFormat(await img.clone().gif().toBuffer())).toBe('gif');
    expect(sniffImageFormat(await img.clone().webp().toBuffer())).toBe('webp');
    expect(sniffImageFormat(await img.clone().tiff().toBuffer())).toBe('tiff');
    expect(sniffImageFormat(Buffer.from('MM\0*\0\0\0\x08', 'latin1'))).toBe('tiff');
    const bmp = Buffer.alloc(54);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(40, 14);
    expect(sniffImageFormat(bmp)).toBe('bmp');
    const ftyp = (major: string, ...compatible: string[]): Buffer => {
      const box = Buffer.alloc(16 + 4 * compatible.length);
      box.writeUInt32BE(box.length, 0);
      box.write(`ftyp${major}`, 4, 'latin1');
      compatible.forEach((brand, i) => box.write(brand, 16 + 4 * i, 'latin1'));
      return box;
    };
    expect(sniffImageFormat(ftyp('avif', 'mif1', 'miaf'))).toBe('avif');
    expect(sniffImageFormat(ftyp('avis'))).toBe('avif');
    expect(sniffImageFormat(ftyp('mif1', 'avif'))).toBe('avif');
    expect(sniffImageFormat(ftyp('heic', 'mif1'))).toBeUndefined();
  });

  it('describes what non-images look like', () => {
    expect(sniffImageFormat(Buffer.from('BMW is a car brand and this is text'))).toBeUndefined();
    expect(describeContent(Buffer.alloc(0))).toBe('an empty body');
    expect(describeContent(Buffer.from('\n  <html><head></head></html>'))).toBe('an HTML page');
    expect(describeContent(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"></svg>'))).toBe('an SVG document');
    expect(describeContent(Buffer.from('{"error":"not found"}'))).toBe('JSON');
    expect(describeContent(Buffer.from('%PDF-1.7\n'))).toBe('a PDF document');
    expect(describeContent(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gzip-compressed data');
    expect(describeContent(Buffer.from('just words'))).toBe('plain text');
    expect(describeContent(Buffer.from([0, 1, 2, 3]))).toMatch(/unrecognised bytes \(starting 00010203\)/);
  });
});
