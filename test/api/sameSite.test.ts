// Cross-site requests that would change state are refused: a foreign Origin (unless allowed), and a JSON route's
// body in any other content type (what a form or a simple fetch from another page sends).
import { describe, expect, it } from 'vitest';

import { errorResponse } from '../../src/api/responses';
import { assertSameSite, type RequestLike, type SameSiteOptions } from '../../src/api/sameSite';

const request = (headers: Record<string, string>) =>
  new Request('http://localhost:7071/api/datasets/d/train', { method: 'POST', headers });

/** The HTTP answer the check gives a request it refuses. */
function answerTo(
  req: RequestLike,
  allowedOrigins: string[],
  options?: SameSiteOptions,
): { status: number; jsonBody: unknown } {
  try {
    assertSameSite(req, { allowedOrigins }, options);
  } catch (error) {
    return errorResponse(error, () => undefined);
  }
  throw new Error('the request was let through');
}

describe('assertSameSite', () => {
  it('lets through requests without Origin (curl, the CLI, server code) and from the app itself', () => {
    expect(() => assertSameSite(request({}), { allowedOrigins: [] })).not.toThrow();
    expect(() => assertSameSite(request({ origin: 'http://localhost:7071' }), { allowedOrigins: [] })).not.toThrow();
    expect(() =>
      assertSameSite(request({ origin: 'https://portal.example.com' }), {
        allowedOrigins: ['https://portal.example.com'],
      }),
    ).not.toThrow();
  });

  it('refuses a foreign or opaque origin with a 403 that says how to allow it', () => {
    for (const origin of ['http://evil.example', 'null', 'http://localhost:8080']) {
      expect(answerTo(request({ origin }), [])).toEqual({
        status: 403,
        jsonBody: {
          error: 'Forbidden',
          message: `a request from the page origin ${origin} may not change anything here; list it in HTTP_ALLOWED_ORIGINS to allow it`,
        },
      });
    }
  });

  it('takes only application/json bodies on JSON routes', () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      expect(answerTo(request({ 'content-type': type }), [], { json: true, hasBody: true })).toMatchObject({
        status: 415,
        jsonBody: { error: 'UnsupportedMediaType' },
      });
    }
    expect(() =>
      assertSameSite(
        request({ 'content-type': 'application/json; charset=utf-8' }),
        { allowedOrigins: [] },
        { json: true, hasBody: true },
      ),
    ).not.toThrow();
    expect(() =>
      assertSameSite(request({ 'content-type': 'text/plain' }), { allowedOrigins: [] }, { json: true, hasBody: false }),
    ).not.toThrow();
  });
});
