// Fuzzing the Host and Origin headers (DNS rebinding): generated pairs of a Host (the names the local host serves,
// in any case, and rebound, look-alike, malformed and other-port ones) and an Origin (none, the request's own, the
// Host's, foreign and opaque ones). Only a served Host reaches a function; a state-changing request from a page the
// app does not serve is refused; everything else goes through.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type AppStack, startAppStack } from '../support/appHost';
import { type RawAnswer, sendRaw } from '../support/rawHttp';
import { fuzzRuns, reportFuzz } from './fuzzRuns';

let stack: AppStack;
let port: string;

beforeAll(async () => {
  stack = await startAppStack({ hostId: 'fuzz-host-header', env: { HTTP_ALLOWED_HOSTS: 'mybox.lan' } });
  port = new URL(stack.host.url).port;
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

function send(method: string, path: string, headers: Record<string, string>): Promise<RawAnswer> {
  return sendRaw(stack.host.url, method, path, headers);
}

/** A Host, and whether the local host serves it: `P` stands for the port it listens on. */
const servedHost = fc.oneof(
  fc.constantFrom('localhost:P', '127.0.0.1:P', '[::1]:P', 'mybox.lan', 'mybox.lan:P', 'mybox.lan:8080'),
  // Host names are case-insensitive.
  fc
    .tuple(fc.constantFrom('localhost:P', 'mybox.lan'), fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }))
    .map(([name, upper]) => [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('')),
);
const refusedHost = fc.oneof(
  fc.constantFrom(
    'evil.example:P',
    'localhost',
    'localhost:80',
    'localhost.:P',
    '127.0.0.2:P',
    '0.0.0.0:P',
    '[::ffff:127.0.0.1]:P',
    '127.1:P',
    '2130706433:P',
    'mybox.lan.evil.example',
    'evil.mybox.lan',
    'mybox.lan.',
    'user@localhost:P',
    'localhost:P/path',
    'localhost:P evil.example',
    '',
  ),
  fc.domain().map((domain) => `${domain}:P`),
  fc.domain(),
  fc
    .tuple(fc.constantFrom('localhost', '127.0.0.1', '[::1]'), fc.integer({ min: 1, max: 65535 }))
    .map(([name, other]) => `${name}:${other}`),
  fc.string({ maxLength: 40 }).map((text) => text.replace(/[^\x21-\x7e]/g, '')),
);
const host = fc.oneof(
  servedHost.map((value) => ({ value, served: true })),
  refusedHost.map((value) => ({ value, served: false })),
);

/** An Origin: none, the Host's own (what a rebinding page sends), a loopback one, an allowed host's, or foreign. */
const origin = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.constantFrom('http:', 'https:').map((scheme) => ({ kind: 'host' as const, scheme })),
  fc.constantFrom('http://localhost:P', 'http://127.0.0.1:P', 'http://[::1]:P').map((value) => ({
    kind: 'loopback' as const,
    value,
  })),
  fc.constantFrom('http://mybox.lan', 'https://mybox.lan:8443', 'http://mybox.lan:P').map((value) => ({
    kind: 'allowed' as const,
    value,
  })),
  fc
    .oneof(
      fc.constantFrom('null', 'http://evil.example', 'http://localhost:1', 'file://', 'http://mybox.lan.evil.example'),
      fc.webUrl().map((url) => new URL(url).origin),
    )
    .map((value) => ({ kind: 'foreign' as const, value })),
);

const request = fc.record({ host, origin, method: fc.constantFrom('POST undo', 'GET datasets') });

describe('fuzz: Host and Origin headers', () => {
  it('only served Hosts reach a function, and pages the app does not serve change nothing', async () => {
    const runs = fuzzRuns(300);
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        tried++;
        const hostValue = r.host.value.replaceAll('P', port);
        const originValue =
          r.origin.kind === 'none'
            ? undefined
            : r.origin.kind === 'host'
              ? `${r.origin.scheme}//${hostValue}`
              : r.origin.value.replaceAll(':P', `:${port}`);
        const headers: Record<string, string> = { ...(hostValue ? { host: hostValue } : {}) };
        if (originValue !== undefined) headers['origin'] = originValue;
        const [method, path] =
          r.method === 'POST undo' ? ['POST', '/api/datasets/cone/changes/undo'] : ['GET', '/api/datasets'];
        const answer = await send(method, path, headers);
        const what = `${method} ${path} Host ${JSON.stringify(hostValue)} Origin ${JSON.stringify(originValue)}: ${answer.status} ${answer.text.slice(0, 300)}`;
        if (!r.host.served) {
          // Refused by the host, before any function: Node's own 400 for a Host it cannot parse, else the host's 403.
          expect([400, 403], what).toContain(answer.status);
          if (answer.status === 403) expect(answer.text, what).toContain('HTTP_ALLOWED_HOSTS');
          return;
        }
        if (method === 'GET') {
          expect(answer.status, what).toBe(200);
          return;
        }
        // The app serves its own loopback origin, the allowed hosts' pages, and requests that name no page.
        const lower = hostValue.toLowerCase();
        const ownLoopback =
          ['localhost', '127.0.0.1', '[::1]'].some((name) => lower === `${name}:${port}`) &&
          originValue === `http://${lower}`;
        // (A browser sends an origin in lower case; another spelling is no origin the app serves.)
        const fromAllowed =
          r.origin.kind === 'allowed' ||
          (r.origin.kind === 'host' &&
            hostValue === lower &&
            (lower === 'mybox.lan' || lower.startsWith('mybox.lan:')));
        const sameSite = r.origin.kind === 'none' || ownLoopback || fromAllowed;
        if (sameSite) expect(answer.status, what).toBe(404);
        else {
          expect(answer.status, what).toBe(403);
          expect(answer.text, what).toContain('HTTP_ALLOWED_ORIGINS');
        }
      }),
      { numRuns: runs, seed: 18 },
    );
    reportFuzz('Host and Origin headers', tried, 0);
  }, 600_000);
});
