// Fuzzing every HTTP route of the local host with generated methods, paths, query strings, headers, content
// types and bodies (raw bytes, JSON, well-formed, truncated and boundary-less multipart): the host stays up, every
// answer is a JSON 2xx/4xx (503 only for "no model yet") with a message for errors, and memory stays bounded.
import * as http from 'node:http';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunningHost } from '../../src/host/localHost';
import { startAppHost, testSettings } from '../support/appHost';
import { startTestStorage, type TestStorage } from '../support/azurite';
import { fuzzRuns, reportFuzz } from './fuzzRuns';

let storage: TestStorage;
let host: RunningHost;

beforeAll(async () => {
  storage = await startTestStorage();
  host = await startAppHost({ hostId: 'fuzz-http', settings: testSettings(storage.azurite.connectionString) });
}, 60_000);
afterAll(async () => {
  await host?.stop();
  await storage?.azurite.close();
});

interface Answer {
  status: number;
  contentType: string | undefined;
  text: string;
}

function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
): Promise<Answer> {
  const url = new URL(host.url);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            contentType: response.headers['content-type'],
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

// Path segments: names that may be valid, and anything at all (percent-encoded so the request line is legal).
const segment = fc.oneof(
  fc.constantFrom(
    'shirts',
    'no-such-set',
    'a',
    'Bad..Name',
    '-x-',
    '20261201123456-0123abcd',
    '..',
    '.',
    '%2F',
    'a%2Fb',
    '%00',
    '%E2%80%A8',
  ),
  fc.string({ maxLength: 20, unit: 'binary' }).map((s) => encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, ''))),
);
const route = fc.oneof(
  fc.constant('health'),
  fc.constant('datasets'),
  segment.map((d) => `datasets/${d}`),
  segment.map((d) => `datasets/${d}/images`),
  segment.map((d) => `datasets/${d}/collection-plan`),
  segment.map((d) => `datasets/${d}/collect`),
  fc.tuple(segment, segment).map(([d, r]) => `datasets/${d}/collect/${r}`),
  segment.map((d) => `datasets/${d}/train`),
  fc.tuple(segment, segment).map(([d, j]) => `datasets/${d}/jobs/${j}`),
  segment.map((d) => `datasets/${d}/classify`),
  segment.map((d) => `datasets/${d}/models`),
  segment.map((d) => `datasets/${d}/suspects`),
  fc.tuple(segment, segment).map(([d, v]) => `datasets/${d}/models/${v}`),
  fc.tuple(segment, segment, segment).map(([d, v, n]) => `datasets/${d}/models/${v}/files/${n}`),
  fc.tuple(segment, segment).map(([d, i]) => `datasets/${d}/images/${i}`),
  fc.tuple(segment, segment).map(([d, i]) => `datasets/${d}/images/${i}/thumbnail`),
  segment.map((d) => `datasets/${d}/changes`),
  segment.map((d) => `datasets/${d}/changes/undo`),
  fc.array(segment, { maxLength: 5 }).map((parts) => parts.join('/')),
);
const query = fc
  .array(
    fc.tuple(
      fc.constantFrom('top', 'threshold', 'status', 'label', 'pageSize', 'continuationToken', 'size', 'limit', 'x'),
      fc.string({ maxLength: 30 }),
    ),
    { maxLength: 4 },
  )
  .map((pairs) =>
    pairs.length
      ? `?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(v.replace(/[\uD800-\uDFFF]/g, ''))}`).join('&')}`
      : '',
  );
const contentType = fc.option(
  fc.constantFrom(
    'application/json',
    'text/plain',
    'image/jpeg',
    'application/octet-stream',
    'multipart/form-data; boundary=B',
    'multipart/form-data',
    'application/x-www-form-urlencoded',
    'image/',
    ';;;',
    'multipart/form-data; boundary=',
  ),
  { nil: undefined },
);
const part = (name: string, bytes: Uint8Array) =>
  Buffer.concat([
    Buffer.from(
      `--B\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: image/jpeg\r\n\r\n`,
    ),
    Buffer.from(bytes),
    Buffer.from('\r\n'),
  ]);
const body = fc.oneof(
  fc.constant(undefined),
  fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
  fc.jsonValue({ maxDepth: 3 }).map((json) => Buffer.from(JSON.stringify(json) ?? 'null')),
  fc
    .tuple(
      fc.string({ maxLength: 12 }),
      fc.uint8Array({ maxLength: 512 }),
      fc.constantFrom('closed', 'truncated', 'unclosed'),
    )
    .map(([name, bytes, ending]) => {
      const whole = Buffer.concat([part(name.replace(/["\r\n]/g, ''), bytes), Buffer.from('--B--\r\n')]);
      return ending === 'closed'
        ? whole
        : ending === 'unclosed'
          ? part('a.jpg', bytes)
          : whole.subarray(0, Math.floor(whole.length / 2));
    }),
);
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
  route,
  query,
  contentType,
  origin: fc.option(fc.constantFrom('http://evil.example', 'null'), { nil: undefined }),
  body,
});

describe('fuzz: HTTP routes', () => {
  it('answer every generated request with JSON 2xx/4xx and stay up, within a memory bound', async () => {
    const runs = fuzzRuns(150);
    let tried = 0;
    const rssBefore = process.memoryUsage().rss;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        tried++;
        const headers: Record<string, string> = {};
        if (r.contentType) headers['content-type'] = r.contentType;
        if (r.origin) headers['origin'] = r.origin;
        const answer = await send(
          r.method,
          `/api/${r.route}${r.query}`,
          headers,
          r.method === 'GET' || r.method === 'HEAD' ? undefined : r.body,
        );
        const what = `${r.method} /api/${r.route}${r.query} (${r.contentType ?? 'no content type'}) answered ${answer.status}: ${answer.text.slice(0, 200)}`;
        expect(answer.status >= 200 && (answer.status < 500 || answer.status === 503), what).toBe(true);
        if (r.method === 'HEAD') return;
        expect(answer.contentType ?? '', what).toMatch(/^application\/json/);
        const parsed = JSON.parse(answer.text) as { message?: unknown };
        if (answer.status >= 400) expect(typeof parsed.message, what).toBe('string');
      }),
      { numRuns: runs, seed: 3 },
    );
    const health = await send('GET', '/api/health', {}, undefined);
    expect(health.status).toBe(200);
    const growthMb = (process.memoryUsage().rss - rssBefore) / 1048576;
    expect(growthMb).toBeLessThan(1024);
    reportFuzz(`HTTP routes (rss +${growthMb.toFixed(0)} MB)`, tried, 0);
  }, 600_000);
});
