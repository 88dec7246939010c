// Over real HTTP: one of the app's route handlers registered with app.http and httpFunction over hand-made services,
// served by the local host, which stands in for the Functions runtime. No storage answers anywhere (the settings
// point at a closed port): the request and its JSON answer need none, since the services are injected.
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type RunningHost, startLocalHost } from '../../src/host/localHost';
import { UNREACHABLE_STORAGE } from './handMadeServices';

const projectRoot = path.resolve(__dirname, '..', '..');
// Loaded by the host once it has installed @azure/functions-core (a static import here would register too early).
const routesFile = path.join(__dirname, 'handMadeRoutes.ts');

let host: RunningHost;

beforeAll(async () => {
  host = await startLocalHost({
    projectRoot,
    functionFiles: [routesFile],
    loadModule: (file) => import(file),
    settings: { AzureWebJobsStorage: UNREACHABLE_STORAGE },
    httpPort: 0,
    hostId: 'hand-made',
    logger: { log: () => undefined },
  });
});

afterAll(async () => {
  await host?.stop();
});

describe('a route over hand-made services on the local host', () => {
  it('answers a real HTTP request with the JSON its handler builds from them', async () => {
    const response = await fetch(`${host.url}/api/handmade/shirts`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ dataset: 'shirts', images: { accepted: 2 }, labels: { plaid: 2 } });
    const unknown = await fetch(`${host.url}/api/handmade/shoes`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      error: 'NotFound',
      code: 'not-found',
      message: 'dataset "shoes" has no images yet',
    });
  });
});
