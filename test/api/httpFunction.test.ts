// A route declared with httpFunction gets what every HTTP function needs without writing it: the services it was
// registered with, checked dataset names, the same-site check, parsed JSON bodies, and errors answered through the
// status table and logged. Driven with @azure/functions' own request and context types and hand-made services: the
// HTTP layer needs no storage (the services are injected, never fetched).
import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';

import {
  type HttpCall,
  httpFunction,
  type HttpFunctionDeclaration,
  type HttpServices,
} from '../../src/api/httpFunction';
import { ok } from '../../src/api/responses';
import { lazyServices, type ServicesSource } from '../../src/services';

/** All httpFunction itself reads of the services: the HTTP settings. */
const handMade: HttpServices = { settings: { http: { allowedOrigins: [] } } };
const handMadeSource: ServicesSource<HttpServices> = async () => handMade;

interface Sent {
  method?: string;
  params?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
}

async function call<P extends string>(
  declaration: HttpFunctionDeclaration<P, HttpServices>,
  sent: Sent = {},
  services: ServicesSource<HttpServices> = handMadeSource,
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
  const response = (await httpFunction(services, declaration).handler(request, context)) as HttpResponseInit;
  return { response, errors };
}

const route = { route: 'datasets/{dataset}/probe', authLevel: 'function' as const };
const echo = async ({ params, body, services }: HttpCall<'dataset' | 'id', HttpServices>) =>
  ok({ params, body, allowed: services.settings.http.allowedOrigins });

describe('httpFunction', () => {
  it('gives the handler its checked route parameters and the services, and answers what it returns', async () => {
    const declaration: HttpFunctionDeclaration<'dataset' | 'id', HttpServices> = {
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
    const declaration: HttpFunctionDeclaration<'dataset' | 'id', HttpServices> = {
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
    const declaration: HttpFunctionDeclaration<'dataset' | 'id', HttpServices> = {
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
    const declaration: HttpFunctionDeclaration<never, HttpServices> = {
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

  it('gives the handler the services its source gives, asked on each request', async () => {
    let asked = 0;
    const mine = { settings: { http: { allowedOrigins: ['https://mine.example'] } }, greeting: 'hello' };
    const source = async () => {
      asked++;
      return mine;
    };
    const declaration: HttpFunctionDeclaration<'dataset', typeof mine> = {
      ...route,
      methods: ['GET'],
      params: { dataset: 'dataset' },
      handler: async ({ services, params }) => ok({ greeting: services.greeting, same: services === mine, params }),
    };
    const options = httpFunction(source, declaration);
    const context = new InvocationContext({ functionName: 'probe' });
    const get = (dataset: string) =>
      options.handler(
        new HttpRequest({
          method: 'GET',
          url: `http://localhost:7071/api/datasets/${dataset}/probe`,
          params: { dataset },
        }),
        context,
      );
    expect(await get('shirts')).toEqual({
      status: 200,
      jsonBody: { greeting: 'hello', same: true, params: { dataset: 'shirts' } },
    });
    expect(await get('shoes')).toMatchObject({ status: 200 });
    expect(asked).toBe(2);
  });

  it('answers 500 Misconfigured when the settings are bad, except on a route that starts its services itself', async () => {
    // The real composition root over settings that fail validation: it throws before it touches any storage.
    const badRoot = lazyServices(() => ({}));
    const needing = await call({ ...route, methods: ['GET'], handler: echo }, { method: 'GET' }, badRoot);
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
      { ...route, methods: ['GET'], services: 'on-demand', handler: async () => ok({ up: true }) },
      { method: 'GET' },
      badRoot,
    );
    expect(bare.response).toEqual({ status: 200, jsonBody: { up: true } });
    const reporting = await call(
      {
        ...route,
        methods: ['GET'],
        services: 'on-demand',
        handler: async ({ loadServices }) =>
          loadServices().then(
            () => ok({ settings: 'ok' }),
            () => ok({ settings: 'invalid' }, 503),
          ),
      },
      { method: 'GET' },
      badRoot,
    );
    expect(reporting.response).toEqual({ status: 503, jsonBody: { settings: 'invalid' } });
  });
});

describe('lazyServices', () => {
  it('shares one build between calls, and retries a failed one on the next call rather than keep its failure', async () => {
    const bad = {};
    const root = lazyServices(() => bad);
    const first = root();
    expect(root()).toBe(first);
    await expect(first).rejects.toThrow(/AzureWebJobsStorage/);
    const again = root();
    expect(again).not.toBe(first);
    await expect(again).rejects.toThrow(/AzureWebJobsStorage/);
  });
});
