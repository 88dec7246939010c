// Cross-site requests that would change state are refused: an Origin the app does not serve (unless allowed), and
// a JSON route's body in any other content type (what a form or a simple fetch from another page sends). The
// origins the app serves are never read off the request's Host header alone (DNS rebinding).
import { describe, expect, it } from 'vitest';

import { errorResponse } from '../../src/api/responses';
import { assertSameSite, hostMatches, type RequestLike, type SameSiteOptions } from '../../src/api/sameSite';
import { type HttpSettings, loadHttpAllowedHosts, loadSettings } from '../../src/config';

const request = (headers: Record<string, string>, url = 'http://localhost:7071/api/datasets/d/train') =>
  new Request(url, { method: 'POST', headers });

const none: HttpSettings = { allowedOrigins: [] };

/** The HTTP answer the check gives a request it refuses. */
function answerTo(
  req: RequestLike,
  settings: HttpSettings | string[],
  options?: SameSiteOptions,
): { status: number; jsonBody: unknown } {
  try {
    assertSameSite(req, Array.isArray(settings) ? { allowedOrigins: settings } : settings, options);
  } catch (error) {
    return errorResponse(error, () => undefined);
  }
  throw new Error('the request was let through');
}

const refusal = (origin: string) => ({
  status: 403,
  jsonBody: {
    error: 'Forbidden',
    code: 'forbidden-origin',
    message: `a request from the page origin ${origin} may not change anything here; list it in HTTP_ALLOWED_ORIGINS to allow it`,
  },
});

describe('assertSameSite', () => {
  it('lets through requests without Origin (curl, the CLI, server code) and from the app itself', () => {
    expect(() => assertSameSite(request({}), none)).not.toThrow();
    expect(() => assertSameSite(request({ origin: 'http://localhost:7071' }), none)).not.toThrow();
    expect(() =>
      assertSameSite(request({ origin: 'https://portal.example.com' }), {
        allowedOrigins: ['https://portal.example.com'],
      }),
    ).not.toThrow();
  });

  it('refuses a foreign or opaque origin with a 403 that says how to allow it', () => {
    for (const origin of [
      'http://evil.example',
      'null',
      'http://localhost:8080',
      'file://',
      'http://localhost:7071/x',
    ]) {
      expect(answerTo(request({ origin }), [])).toEqual(refusal(origin));
    }
  });

  it("refuses a rebound name: an Origin that agrees with the Host is not the app's for that", () => {
    // The request of the issue, as the app sees it behind a host that lets any Host through (func start).
    for (const url of ['http://evil.example:17071/api/datasets/cone/collect', 'https://evil.example/api/x']) {
      const origin = new URL(url).origin;
      expect(answerTo(request({ origin }, url), [])).toEqual(refusal(origin));
      // Not even with App Service's or Core Tools' own host name set.
      expect(answerTo(request({ origin }, url), { allowedOrigins: [], ownHostname: 'localhost:17071' })).toEqual(
        refusal(origin),
      );
    }
  });

  it("serves the app's own host name (WEBSITE_HOSTNAME), its loopback aliases and HTTP_ALLOWED_HOSTS", () => {
    const azure: HttpSettings = { allowedOrigins: [], ownHostname: 'icf-func.azurewebsites.net' };
    // On Azure the Host is the app's own name, and the page is served there.
    const onAzure = 'https://icf-func.azurewebsites.net/api/datasets/d/train';
    expect(() =>
      assertSameSite(request({ origin: 'https://icf-func.azurewebsites.net' }, onAzure), azure),
    ).not.toThrow();
    expect(answerTo(request({ origin: 'https://other.azurewebsites.net' }, onAzure), azure)).toEqual(
      refusal('https://other.azurewebsites.net'),
    );
    // Core Tools sets localhost:<port>: the other loopback names at that port are the same app.
    const coreTools: HttpSettings = { allowedOrigins: [], ownHostname: 'localhost:7071' };
    for (const origin of ['http://localhost:7071', 'http://127.0.0.1:7071', 'http://[::1]:7071'])
      expect(() => assertSameSite(request({ origin }, 'http://evil.example:7071/api/x'), coreTools)).not.toThrow();
    expect(answerTo(request({ origin: 'http://localhost:7072' }), coreTools)).toEqual(refusal('http://localhost:7072'));
    const hosts: HttpSettings = { allowedOrigins: [], allowedHosts: ['mybox.lan', '.example.test:8443'] };
    for (const origin of ['http://mybox.lan:7071', 'https://mybox.lan', 'https://a.example.test:8443'])
      expect(() => assertSameSite(request({ origin }), hosts)).not.toThrow();
    for (const origin of ['http://mybox.lan.evil.example', 'https://a.example.test', 'https://badexample.test:8443'])
      expect(answerTo(request({ origin }), hosts)).toEqual(refusal(origin));
  });

  it('matches HTTP_ALLOWED_HOSTS entries as Vite and webpack-dev-server do', () => {
    expect(hostMatches('mybox.lan', { hostname: 'mybox.lan', port: '1' })).toBe(true);
    expect(hostMatches('MyBox.lan:80', { hostname: 'mybox.lan', port: '80' })).toBe(true);
    expect(hostMatches('mybox.lan:80', { hostname: 'mybox.lan', port: '81' })).toBe(false);
    expect(hostMatches('.example.test', { hostname: 'example.test', port: '80' })).toBe(true);
    expect(hostMatches('.example.test', { hostname: 'a.b.example.test', port: '80' })).toBe(true);
    expect(hostMatches('.example.test', { hostname: 'badexample.test', port: '80' })).toBe(false);
    expect(hostMatches('[::1]:7071', { hostname: '[::1]', port: '7071' })).toBe(true);
    expect(hostMatches('[::1]', { hostname: '[::1]', port: '1' })).toBe(true);
  });

  it('reads the origins it serves from the settings: HTTP_ALLOWED_HOSTS and WEBSITE_HOSTNAME', () => {
    const settings = (extra: Record<string, string>) => loadSettings({ AzureWebJobsStorage: 'x', ...extra }).http;
    expect(settings({})).toEqual({ allowedOrigins: [] });
    expect(
      settings({ HTTP_ALLOWED_HOSTS: ' mybox.lan, .example.test:8443 ', WEBSITE_HOSTNAME: 'icf.azurewebsites.net' }),
    ).toEqual({
      allowedOrigins: [],
      allowedHosts: ['mybox.lan', '.example.test:8443'],
      ownHostname: 'icf.azurewebsites.net',
    });
    expect(() => settings({ HTTP_ALLOWED_HOSTS: 'http://mybox.lan' })).toThrow(
      /HTTP_ALLOWED_HOSTS\.0: lists host names such as mybox\.lan/,
    );
    // The local host reads it alone, before the app runs.
    expect(loadHttpAllowedHosts({ HTTP_ALLOWED_HOSTS: 'a, b:1' })).toEqual(['a', 'b:1']);
    expect(() => loadHttpAllowedHosts({ HTTP_ALLOWED_HOSTS: 'a/b' })).toThrow(
      'Invalid app settings: HTTP_ALLOWED_HOSTS: lists host names such as mybox.lan, mybox.lan:7071 or .example.com (no scheme, no path) (got "a/b")',
    );
  });

  it('takes only application/json bodies on JSON routes', () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      expect(answerTo(request({ 'content-type': type }), [], { json: true, hasBody: true })).toMatchObject({
        status: 415,
        jsonBody: { error: 'UnsupportedMediaType' },
      });
    }
    expect(() =>
      assertSameSite(request({ 'content-type': 'application/json; charset=utf-8' }), none, {
        json: true,
        hasBody: true,
      }),
    ).not.toThrow();
    expect(() =>
      assertSameSite(request({ 'content-type': 'text/plain' }), none, { json: true, hasBody: false }),
    ).not.toThrow();
  });
});
