// The app's own route handlers (functions/*.ts) over hand-made services, through httpFunction with @azure/functions'
// request and context types: what a route answers, as JSON, with no storage at all. The handlers take their services
// as given (the function files give them the composition root's), so a test gives its own.
import { HttpRequest, type HttpResponseInit, InvocationContext, type Timer } from '@azure/functions';
import { describe, expect, it } from 'vitest';

import { collectScheduled } from '../../functions/collectScheduled';
import { collectStart } from '../../functions/collectStart';
import { datasetChanges } from '../../functions/datasetChanges';
import { datasetSummary } from '../../functions/datasetSummary';
import { httpFunction, type HttpFunctionDeclaration } from '../../src/api/httpFunction';
import { InvalidArgumentError, NotFoundError } from '../../src/errors';
import type { Services } from '../../src/services';
import { handMadeServices } from './handMadeServices';

const shirts = {
  dataset: 'shirts',
  images: { accepted: 3, rejected: 1, duplicate: 0 },
  labels: { plaid: { train: 1, test: 1 }, striped: { train: 1, test: 0 } },
  sequence: 4,
};

/** A catalog that knows one dataset, and fails a test that lists changes it should not have reached. */
const catalog = {
  requireStats: async (dataset: string) => {
    if (dataset !== 'shirts') throw new NotFoundError(`dataset "${dataset}" has no images yet`);
    return shirts;
  },
  listChanges: async () => {
    throw new Error('listChanges was not to be called');
  },
};

async function answer<P extends string>(
  services: Services,
  declaration: HttpFunctionDeclaration<P>,
  sent: { method?: string; url?: string; params?: Record<string, string>; headers?: Record<string, string> },
): Promise<HttpResponseInit> {
  const request = new HttpRequest({
    method: sent.method ?? 'GET',
    url: sent.url ?? 'http://localhost:7071/api/probe',
    params: sent.params ?? {},
    headers: sent.headers ?? {},
  });
  const context = new InvocationContext({ functionName: 'probe', logHandler: () => undefined });
  return await httpFunction(async () => services, declaration).handler(request, context);
}

describe('route handlers over hand-made services', () => {
  const services = handMadeServices({ catalog });

  it('datasetSummary answers the catalog stats as JSON, and 404 for a dataset with none', async () => {
    const declaration: HttpFunctionDeclaration<'dataset'> = {
      route: 'datasets/{dataset}',
      methods: ['GET'],
      authLevel: 'function',
      params: { dataset: 'dataset' },
      handler: datasetSummary,
    };
    expect(await answer(services, declaration, { params: { dataset: 'shirts' } })).toEqual({
      status: 200,
      jsonBody: { dataset: 'shirts', images: shirts.images, labels: shirts.labels },
    });
    expect(await answer(services, declaration, { params: { dataset: 'shoes' } })).toEqual({
      status: 404,
      jsonBody: { error: 'NotFound', code: 'not-found', message: 'dataset "shoes" has no images yet' },
    });
    // The name check runs before the handler: the catalog never sees a bad name.
    expect(await answer(services, declaration, { params: { dataset: '../x' } })).toMatchObject({
      status: 400,
      jsonBody: { code: 'invalid-argument' },
    });
  });

  it('datasetChanges refuses a bad limit before it reads the catalog', async () => {
    const declaration: HttpFunctionDeclaration<'dataset'> = {
      route: 'datasets/{dataset}/changes',
      methods: ['GET'],
      authLevel: 'function',
      params: { dataset: 'dataset' },
      handler: datasetChanges,
    };
    expect(
      await answer(services, declaration, {
        url: 'http://localhost:7071/api/datasets/shirts/changes?limit=0',
        params: { dataset: 'shirts' },
      }),
    ).toEqual({
      status: 400,
      jsonBody: {
        error: 'BadRequest',
        code: 'invalid-argument',
        message: 'limit must be an integer from 1 to 1000, got "0"',
      },
    });
  });

  it('collectStart answers 202 with the run and its status URL, and refuses a foreign page first', async () => {
    const started: string[] = [];
    const collecting = handMadeServices({
      collector: {
        startRun: async (dataset: string, trigger: string) => {
          started.push(`${dataset} ${trigger}`);
          return { runId: 'r1', queries: 6 };
        },
      },
    });
    const declaration: HttpFunctionDeclaration<'dataset'> = {
      route: 'datasets/{dataset}/collect',
      methods: ['POST'],
      authLevel: 'function',
      params: { dataset: 'dataset' },
      sameSite: ['POST'],
      handler: collectStart,
    };
    const sent = {
      method: 'POST',
      url: 'http://localhost:7071/api/datasets/shirts/collect',
      params: { dataset: 'shirts' },
    };
    expect(
      await answer(collecting, declaration, { ...sent, headers: { origin: 'http://evil.example' } }),
    ).toMatchObject({
      status: 403,
      jsonBody: { error: 'Forbidden' },
    });
    expect(started).toEqual([]);
    expect(await answer(collecting, declaration, sent)).toEqual({
      status: 202,
      jsonBody: { runId: 'r1', queries: 6, statusUrl: '/api/datasets/shirts/collect/r1' },
      headers: { location: '/api/datasets/shirts/collect/r1' },
    });
    expect(started).toEqual(['shirts http']);
  });
});

describe('trigger handlers over hand-made services', () => {
  it("collectScheduled starts every planned dataset's run, and one broken plan stops none of the others", async () => {
    const logged: string[] = [];
    const context = new InvocationContext({
      functionName: 'collectScheduled',
      logHandler: (level, ...args) => logged.push(`${level}: ${args.join(' ')}`),
    });
    const collector = {
      listPlannedDatasets: async () => ['broken', 'shirts'],
      startRun: async (dataset: string) => {
        if (dataset === 'broken') throw new InvalidArgumentError('the plan of "broken" has no terms');
        return { runId: 'r2', queries: 3 };
      },
    };
    const timer: Timer = {
      isPastDue: false,
      schedule: { adjustForDST: false },
      scheduleStatus: { last: '', next: '', lastUpdated: '' },
    };
    await collectScheduled(timer, context, handMadeServices({ collector }));
    expect(logged).toEqual([
      'error: collect: broken: no run started: the plan of "broken" has no terms',
      'information: collect: shirts: run r2 started with 3 queries',
    ]);
  });
});
