// A route declared with httpFunction gets what every HTTP function needs without writing it: checked dataset names,
// the same-site check, parsed JSON bodies, the app's services, and errors answered through the status table and
// logged. Run against real services (an in-memory Azurite) with @azure/functions' own request and context types.
import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type HttpCall, httpFunction, type HttpFunctionDeclaration } from '../../src/api/httpFunction';
import { ok } from '../../src/api/responses';
import { useAppSettings } from '../../src/services';
import { startTestStorage, type TestStorage } from '../support/azurite';

let storage: TestStorage;
let restoreSettings: () => void;

beforeAll(async () => {
  storage = await startTestStorage();
  restoreSettings = useAppSettings({
    AzureWebJobsStorage: storage.azurite.connectionString,
    COLLECT_SCHEDULE: '0 0 3 * * *',
  });
}, 60_000);
afterAll(async () => {
  restoreSettings?.();
  await storage?.azurite.close();
});

interface Sent {
  method?: string;
  params?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
}

async function call<P extends string>(
  declaration: HttpFunctionDeclaration<P>,
  sent: Sent = {},
): Promise<{ response: HttpResponseInit; errors: string[] }> {
  const errors: string[] = [];
  const context = new InvocationContext({
    functionName: 'probe',
    logHandler: (level, ...args) => level === 'error' && errors.push(args.join(' ')),
  });
  const request = new HttpRequest({
    method: sent.method ?? 'POST',
    url: 'http://localhost:7071/api/datasets/x/probe',
    params: sent.params ?? {},
    headers: sent.headers ?? {},
    ...(sent.body !== undefined ? { body: { string: sent.body } } : {}),
  });
  const response = (await httpFunction(declaration).handler(request, context)) as HttpResponseInit;
  return { response, errors };
}

const route = { route: 'datasets/{dataset}/probe', authLevel: 'function' as const };
const echo = async ({ params, body, services }: HttpCall<'dataset' | 'id'>) =>
  ok({ params, body, allowed: services.settings.http.allowedOrigins });

describe('httpFunction', () => {
  it('gives the handler its checked route parameters and the services, and answers what it returns', async () => {
    const declaration: HttpFunctionDeclaration<'dataset' | 'id'> = {
      ...route,
      methods: ['GET'],
      params: { dataset: 'dataset', id: 'text' },
      handler: echo,
    };
    const { response } = await call(declaration, { method: 'GET', params: { dataset: 'shirts', id: 'Any Thing' } });
    expect(response).toEqual({
      status: 200,
      jsonBody: { params: { dataset: 'shirts', id: 'Any Thing' }, allowed: [] },
    });
    const bad = await call(declaration, { method: 'GET', params: { dataset: 'Bad..Name', id: '1' } });
    expect(bad.response.status).toBe(400);
    expect(bad.response.jsonBody).toEqual({
      error: 'BadRequest',
      code: 'invalid-argument',
      message: expect.stringContaining('Bad..Name'),
    });
  });

  it('refuses a foreign page on the declared methods only', async () => {
    const declaration: HttpFunctionDeclaration<'dataset' | 'id'> = {
      ...route,
      methods: ['GET', 'POST'],
      sameSite: ['POST'],
      handler: echo,
    };
    const foreign = { origin: 'http://evil.example' };
    expect((await call(declaration, { method: 'POST', headers: foreign })).response).toMatchObject({
      status: 403,
      jsonBody: { error: 'Forbidden' },
    });
    expect((await call(declaration, { method: 'GET', headers: foreign })).response.status).toBe(200);
  });

  it('reads JSON bodies: as application/json only, within the limit, parsed, an object where needed', async () => {
    const declaration: HttpFunctionDeclaration<'dataset' | 'id'> = {
      ...route,
      methods: ['POST'],
      jsonBody: {
        methods: ['POST'],
        description: 'JSON probe options (or empty)',
        objectDescription: 'a JSON object of probe options',
        optional: true,
        limit: { bytes: 16, message: (bytes) => `at most 16 bytes, not ${bytes}` },
      },
      handler: echo,
    };
    const json = { 'content-type': 'application/json' };
    const answer = async (sent: Sent) => (await call(declaration, sent)).response;
    expect(await answer({ headers: json, body: '{"a":1}' })).toMatchObject({
      status: 200,
      jsonBody: { body: { a: 1 } },
    });
    expect(await answer({ headers: { 'content-type': 'text/plain' }, body: '{"a":1}' })).toMatchObject({ status: 415 });
    expect(await answer({ headers: { 'content-type': 'text/plain' }, body: '  ' })).toEqual({
      status: 200,
      jsonBody: { params: {}, allowed: [] },
    });
    expect(await answer({ headers: json, body: '{"a":' })).toEqual({
      status: 400,
      jsonBody: {
        error: 'BadRequest',
        code: 'invalid-argument',
        message: 'the request body must be JSON probe options (or empty)',
      },
    });
    expect(await answer({ headers: json, body: '[1]' })).toEqual({
      status: 400,
      jsonBody: {
        error: 'BadRequest',
        code: 'invalid-argument',
        message: 'the request body must be a JSON object of probe options, got an array',
      },
    });
    expect(await answer({ headers: json, body: `{"a":"${'x'.repeat(20)}"}` })).toEqual({
      status: 413,
      jsonBody: { error: 'PayloadTooLarge', code: 'payload-too-large', message: 'at most 16 bytes, not 28' },
    });
    // The limit comes first: an oversized body is refused as such, JSON or not.
    expect(await answer({ headers: json, body: `{${'x'.repeat(20)}` })).toMatchObject({ status: 413 });
  });

  it('answers an unexpected failure with a 500 that keeps its text out, and logs it with context.error', async () => {
    const declaration: HttpFunctionDeclaration = {
      ...route,
      methods: ['GET'],
      handler: () => Promise.reject(new Error('disk /secret/x is full')),
    };
    const { response, errors } = await call(declaration, { method: 'GET' });
    expect(response).toEqual({
      status: 500,
      jsonBody: {
        error: 'InternalError',
        code: 'internal',
        message: 'an unexpected error occurred; see the function log',
      },
    });
    expect(errors.join('\n')).toContain('disk /secret/x is full');
  });

  it('answers 500 Misconfigured when the settings are bad, except on a route that takes no services', async () => {
    const restore = useAppSettings({});
    try {
      const needing = await call({ ...route, methods: ['GET'], handler: echo }, { method: 'GET' });
      expect(needing.response).toMatchObject({
        status: 500,
        jsonBody: {
          error: 'Misconfigured',
          code: 'misconfigured',
          message: expect.stringContaining('AzureWebJobsStorage'),
        },
      });
      expect(needing.errors.join('\n')).toContain('AzureWebJobsStorage');
      const bare = await call(
        { ...route, methods: ['GET'], services: 'none', handler: async () => ok({ up: true }) },
        { method: 'GET' },
      );
      expect(bare.response).toEqual({ status: 200, jsonBody: { up: true } });
    } finally {
      restore();
    }
  });
});
