// DNS rebinding: a page on any site can point its own name at 127.0.0.1 and then send the keyless local host
// requests that say `Host: its.name` and `Origin: http://its.name` (the same site, to the browser). The local host
// answers only the names it serves (localhost, 127.0.0.1 and [::1] at its port, and HTTP_ALLOWED_HOSTS), lax and
// strict, with a 403 that names the Host and how to allow it; the app's same-site check takes only origins it serves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunningHost } from '../../src/host/localHost';
import { type AppStack, startAppStack } from '../support/appHost';
import { sendRaw } from '../support/rawHttp';

let laxStack: AppStack;
let strictStack: AppStack;
let lax: RunningHost;
let strict: RunningHost;
let strictKey: string;

/** A request with a Host of its own choosing. */
function send(host: RunningHost, method: string, path: string, headers: Record<string, string>) {
  return sendRaw(host.url, method, path, headers);
}

const port = (host: RunningHost) => new URL(host.url).port;
/** Past the Host and same-site checks, this route answers 404: the dataset has no change to undo. */
const UNDO = '/api/datasets/cone/changes/undo';

beforeAll(async () => {
  const env = { HTTP_ALLOWED_HOSTS: 'mybox.lan, .example.test:8443' };
  [laxStack, strictStack] = await Promise.all([
    startAppStack({ hostId: 'host-header-lax', env }),
    startAppStack({ hostId: 'host-header-strict', env, strict: true }),
  ]);
  lax = laxStack.host;
  strict = strictStack.host;
  strictKey = strict.keys!.host['default']!;
}, 120_000);

afterAll(async () => {
  await strictStack?.close();
  await laxStack?.close();
});

describe('the local host answers only the Host names it serves', () => {
  it('refuses a rebound name, lax and strict, with a 403 that names the Host and how to allow it', async () => {
    for (const [host, key] of [
      [lax, {}],
      [strict, { 'x-functions-key': strictKey }],
    ] as const) {
      const evil = `evil.example:${port(host)}`;
      // The request of the issue: the same "site" to the browser, so the Origin agrees with the Host.
      const answer = await send(host, 'POST', '/api/datasets/cone/collect', {
        host: evil,
        origin: `http://${evil}`,
        ...key,
      });
      expect(answer.status).toBe(403);
      const body = JSON.parse(answer.text) as { error: string; message: string };
      expect(body.error).toBe('Forbidden');
      expect(body.message).toContain(`Host "${evil}"`);
      expect(body.message).toContain('HTTP_ALLOWED_HOSTS');
      expect(body.message).toContain(`localhost:${port(host)}, 127.0.0.1:${port(host)}, [::1]:${port(host)}`);
      // Every path: the page, the API's reads, the webhook, with or without Origin.
      for (const path of ['/', '/api/datasets', '/runtime/webhooks/blobs?functionName=Host.Functions.ingest'])
        expect((await send(host, 'GET', path, { host: evil, ...key })).status, path).toBe(403);
      // The loopback names at another port, a trailing dot, user info, and no Host at all.
      for (const other of [`localhost:${Number(port(host)) + 1}`, 'localhost', `localhost.:${port(host)}`, 'a@b'])
        expect((await send(host, 'GET', '/api/datasets', { host: other, ...key })).status, other).toBe(403);
      // (Node's server answers an HTTP/1.1 request without Host 400 itself.)
      expect([400, 403]).toContain((await send(host, 'GET', '/api/datasets', { ...key })).status);
    }
  });

  it('serves localhost, 127.0.0.1 and [::1] at its port, and HTTP_ALLOWED_HOSTS', async () => {
    for (const [host, key] of [
      [lax, {}],
      [strict, { 'x-functions-key': strictKey }],
    ] as const) {
      for (const name of ['localhost', '127.0.0.1', '[::1]', 'LOCALHOST']) {
        const own = `${name}:${port(host)}`;
        const answer = await send(host, 'POST', UNDO, { host: own, origin: `http://${own.toLowerCase()}`, ...key });
        expect(answer.status, `${own}: ${answer.text}`).toBe(404);
      }
      for (const allowed of ['mybox.lan', `mybox.lan:${port(host)}`, 'a.example.test:8443', 'example.test:8443']) {
        const answer = await send(host, 'POST', UNDO, { host: allowed, origin: `http://${allowed}`, ...key });
        expect(answer.status, `${allowed}: ${answer.text}`).toBe(404);
      }
      // An allowed name at a port its entry does not take.
      expect((await send(host, 'GET', '/api/datasets', { host: 'a.example.test:80', ...key })).status).toBe(403);
    }
  });

  it('lets a served Host through to the same-site check, which still refuses a foreign Origin', async () => {
    for (const [host, key] of [
      [lax, {}],
      [strict, { 'x-functions-key': strictKey }],
    ] as const) {
      const answer = await send(host, 'POST', UNDO, {
        host: `127.0.0.1:${port(host)}`,
        origin: `http://evil.example:${port(host)}`,
        ...key,
      });
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.text)).toEqual({
        error: 'Forbidden',
        code: 'forbidden-origin',
        message: `a request from the page origin http://evil.example:${port(host)} may not change anything here; list it in HTTP_ALLOWED_ORIGINS to allow it`,
      });
    }
  });
});
