// The strict local host (as strict as Azure): function keys as the Functions host checks them, its route rules
// (an empty route is the function's name, routes tried in function-name order, literals case-insensitive), Azure's
// bare 401s and 404s, and the app run from what azd ships (the files .funcignore keeps, production dependencies
// only). Half of it runs a small probe package written here; the other half the app's build (npm run build first).
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type RunningHost, startLocalHost } from '../../src/host/localHost';
import { funcIgnore } from '../../src/host/stage';
import { type AppStack, startAppStack } from '../../src/localStack/appStack';
import { projectRoot } from '../support/appHost';
import { startTestStorage, type TestStorage } from '../support/azurite';

/** A package with probe functions: @azure/functions as its one production dependency, vitest a dev one. */
async function probePackage(functionsSource: string): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'strict-probe-'));
  await mkdir(path.join(root, 'functions'));
  await mkdir(path.join(root, 'secret'));
  await mkdir(path.join(root, 'node_modules', '@azure'), { recursive: true });
  await writeFile(
    path.join(root, 'host.json'),
    JSON.stringify({ version: '2.0', extensions: { http: { routePrefix: '' } } }),
  );
  await writeFile(
    path.join(root, 'package.json'),
    JSON.stringify({ name: 'probe', version: '1.0.0', main: 'functions/*.js' }),
  );
  await writeFile(
    path.join(root, 'package-lock.json'),
    JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'probe' },
        'node_modules/@azure/functions': { version: '4.16.5' },
        'node_modules/vitest': { version: '4.1.12', dev: true },
      },
    }),
  );
  await writeFile(path.join(root, '.funcignore'), "# as the app's\n/secret\n*.md\nnode_modules\n");
  await writeFile(path.join(root, 'secret', 'data.txt'), 'left out');
  await writeFile(path.join(root, 'NOTES.md'), 'left out');
  await writeFile(path.join(root, 'kept.txt'), 'shipped');
  await symlink(
    path.join(projectRoot, 'node_modules', '@azure', 'functions'),
    path.join(root, 'node_modules', '@azure', 'functions'),
  );
  await symlink(path.join(projectRoot, 'node_modules', 'vitest'), path.join(root, 'node_modules', 'vitest'));
  await writeFile(path.join(root, 'functions', 'probes.js'), functionsSource);
  return root;
}

// Registered in an order that is neither the names' nor ASP.NET Core's template precedence.
const PROBES = `
const { app } = require('@azure/functions');
const fs = require('node:fs');
const path = require('node:path');
const reply = (fn) => async (request) => ({ jsonBody: { fn, params: request.params } });
app.http('zzLiteral', { methods: ['GET'], authLevel: 'anonymous', route: 'items/fixed', handler: reply('zzLiteral') });
app.http('aaParam', { methods: ['GET'], authLevel: 'anonymous', route: 'items/{id}', handler: reply('aaParam') });
app.http('zzParam', { methods: ['GET'], authLevel: 'anonymous', route: 'things/{id}', handler: reply('zzParam') });
app.http('bbLiteral', { methods: ['GET'], authLevel: 'anonymous', route: 'Things/Fixed', handler: reply('bbLiteral') });
app.http('noRoute', { methods: ['GET'], authLevel: 'anonymous', route: '', handler: reply('noRoute') });
app.http('keyed', { methods: ['GET'], authLevel: 'function', route: 'keyed', handler: reply('keyed') });
app.http('otherKeyed', { methods: ['GET'], authLevel: 'function', route: 'other', handler: reply('otherKeyed') });
app.http('adminOnly', { methods: ['POST'], authLevel: 'admin', route: 'ops/reset', handler: reply('adminOnly') });
app.http('devDependency', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'dev',
  handler: async () => {
    try {
      require('vitest');
      return { jsonBody: { loaded: true } };
    } catch (error) {
      return { status: 500, jsonBody: { error: error.code, message: error.message } };
    }
  },
});
app.http('files', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'files',
  handler: async () => ({
    jsonBody: Object.fromEntries(
      ['kept.txt', 'secret/data.txt', 'NOTES.md'].map((name) => [name, fs.existsSync(path.join(__dirname, '..', name))]),
    ),
  }),
});
`;

let storage: TestStorage;
let probe: RunningHost;

beforeAll(async () => {
  storage = await startTestStorage();
  probe = await startLocalHost({
    projectRoot: await probePackage(PROBES),
    settings: { AzureWebJobsStorage: storage.azurite.connectionString },
    httpPort: 0,
    hostId: 'strict-probe',
    logger: { log: () => undefined },
    strict: { keys: { host: { ci: 'the-host-key' }, functions: { keyed: { mine: 'keyed-own-key' } } } },
  });
}, 60_000);

afterAll(async () => {
  await probe?.stop();
  await storage?.azurite.close();
});

async function get(host: RunningHost, route: string, headers: Record<string, string> = {}, method = 'GET') {
  const response = await fetch(`${host.url}${route}`, { method, headers });
  const text = await response.text();
  const json = /json/.test(response.headers.get('content-type') ?? '') ? (JSON.parse(text) as unknown) : undefined;
  return { status: response.status, text, json: json as Record<string, unknown> | undefined };
}

describe('strict host: function keys', () => {
  it('answers a function-level route 401 with no body without a key, 200 with a host key or its own key', async () => {
    expect(await get(probe, '/keyed')).toEqual({ status: 401, text: '', json: undefined });
    expect((await get(probe, '/keyed', { 'x-functions-key': 'wrong' })).status).toBe(401);
    const keys = probe.keys!;
    expect((await get(probe, '/keyed', { 'x-functions-key': 'the-host-key' })).status).toBe(200);
    expect((await get(probe, `/keyed?code=${encodeURIComponent(keys.host['default']!)}`)).status).toBe(200);
    expect((await get(probe, '/keyed?code=keyed-own-key')).status).toBe(200);
    expect((await get(probe, '/keyed', { 'x-functions-key': keys.functions['keyed']!['default']! })).status).toBe(200);
    // A function's own key opens that function only; the master key opens everything; a system key no function.
    expect((await get(probe, '/other?code=keyed-own-key')).status).toBe(401);
    expect((await get(probe, '/other', { 'x-functions-key': keys.master })).status).toBe(200);
    expect((await get(probe, `/other?code=${encodeURIComponent(keys.system['blobs_extension']!)}`)).status).toBe(401);
    // The header wins over ?code=, as in AuthenticationLevelHandler.
    expect((await get(probe, '/keyed?code=the-host-key', { 'x-functions-key': 'wrong' })).status).toBe(401);
  });

  it('opens an admin-level route to the master key only, and anonymous routes to anyone', async () => {
    expect((await get(probe, '/ops/reset', {}, 'POST')).status).toBe(401);
    expect((await get(probe, '/ops/reset', { 'x-functions-key': 'the-host-key' }, 'POST')).status).toBe(401);
    expect((await get(probe, '/ops/reset', { 'x-functions-key': probe.keys!.master }, 'POST')).status).toBe(200);
    expect((await get(probe, '/files')).status).toBe(200);
    expect((await get(probe, '/files?code=not-a-key')).status).toBe(200);
  });

  it('keeps the keys where the Functions host does, and reads them back on a restart', async () => {
    const secrets = storage.clients.blobs.getContainerClient('azure-webjobs-secrets');
    const stored = JSON.parse(
      (await secrets.getBlobClient('strict-probe/host.json').downloadToBuffer()).toString(),
    ) as {
      masterKey: { name: string; value: string };
      functionKeys: { name: string; value: string }[];
    };
    expect(stored.masterKey).toEqual({ name: 'master', value: probe.keys!.master, encrypted: false });
    expect(stored.functionKeys).toContainEqual({ name: 'ci', value: 'the-host-key', encrypted: false });
    const own = JSON.parse((await secrets.getBlobClient('strict-probe/keyed.json').downloadToBuffer()).toString()) as {
      keys: { name: string; value: string }[];
    };
    expect(own.keys.map((k) => k.name).sort()).toEqual(['default', 'mine']);
    const again = await startLocalHost({
      projectRoot: await probePackage(PROBES),
      settings: { AzureWebJobsStorage: storage.azurite.connectionString },
      httpPort: 0,
      hostId: 'strict-probe',
      logger: { log: () => undefined },
      strict: true,
    });
    try {
      expect(again.keys).toEqual(probe.keys);
    } finally {
      await again.stop();
    }
  });
});

describe("strict host: the Functions host's route rules", () => {
  it('serves a function with an empty route at its name, case-insensitively, and / is not it', async () => {
    expect((await get(probe, '/noRoute')).json).toMatchObject({ fn: 'noRoute' });
    expect((await get(probe, '/NOROUTE')).json).toMatchObject({ fn: 'noRoute' });
    expect(probe.functions.find((f) => f.name === 'noRoute')?.trigger).toBe('http GET /noRoute');
    // No function at / : the runtime's home page (AzureWebJobsDisableHomepage is not set here).
    const home = await get(probe, '/');
    expect(home.status).toBe(200);
    expect(home.text).toMatch(/Functions app is up and running/);
  });

  it('tries routes in function-name order, whatever the registration order or the templates', async () => {
    // aaParam sorts before zzLiteral, so items/{id} takes items/fixed, as on Azure (azure-functions-host#9876).
    expect((await get(probe, '/items/fixed')).json).toEqual({ fn: 'aaParam', params: { id: 'fixed' } });
    // bbLiteral sorts before zzParam: the literal wins, matched case-insensitively.
    expect((await get(probe, '/things/fixed')).json).toMatchObject({ fn: 'bbLiteral' });
    expect((await get(probe, '/THINGS/FIXED')).json).toMatchObject({ fn: 'bbLiteral' });
    expect((await get(probe, '/things/other')).json).toEqual({ fn: 'zzParam', params: { id: 'other' } });
  });

  it("refuses a route in the host's own space, and two functions on one route and method", async () => {
    const start = async (source: string) =>
      startLocalHost({
        projectRoot: await probePackage(`const { app } = require('@azure/functions');\n${source}`),
        settings: { AzureWebJobsStorage: storage.azurite.connectionString },
        httpPort: 0,
        hostId: 'strict-refused',
        logger: { log: () => undefined },
        strict: true,
      });
    const handler = 'handler: async () => ({})';
    await expect(start(`app.http('ops', { route: 'admin/ops', ${handler} });`)).rejects.toThrow(
      /conflicts with one or more built in routes/,
    );
    await expect(
      start(
        `app.http('one', { methods: ['GET'], route: 'a/{x}', ${handler} });\n` +
          `app.http('two', { methods: ['GET', 'POST'], route: '/A/{x}/', ${handler} });`,
      ),
    ).rejects.toThrow(/the route of function "two" \(A\/\{x\}\/\) conflicts with the route of function "one"/);
  });

  it('answers a path or method no route takes with a bare 404, as Azure (no 405)', async () => {
    expect(await get(probe, '/no/such/route')).toEqual({ status: 404, text: '', json: undefined });
    expect(await get(probe, '/files', {}, 'POST')).toEqual({ status: 404, text: '', json: undefined });
  });
});

describe('strict host: the app as azd ships it', () => {
  it('runs from a staging folder without dev dependencies or the files .funcignore drops', async () => {
    const dev = await get(probe, '/dev');
    expect(dev.status).toBe(500);
    expect(dev.json).toMatchObject({
      error: 'MODULE_NOT_FOUND',
      message: expect.stringMatching(/Cannot find module 'vitest'/),
    });
    expect((await get(probe, '/files')).json).toEqual({
      'kept.txt': true,
      'secret/data.txt': false,
      'NOTES.md': false,
    });
    const staged = probe.stagedRoot!;
    expect(existsSync(path.join(staged, 'node_modules', '@azure', 'functions', 'package.json'))).toBe(true);
    expect(existsSync(path.join(staged, 'node_modules', 'vitest'))).toBe(false);
  });

  it('fails to start, as the worker fails to load, when a function file needs a dev dependency', async () => {
    const root = await probePackage("require('vitest');\n");
    const stagingParentDir = await mkdtemp(path.join(os.tmpdir(), 'strict-staging-'));
    await expect(
      startLocalHost({
        projectRoot: root,
        settings: { AzureWebJobsStorage: storage.azurite.connectionString },
        httpPort: 0,
        hostId: 'strict-dev',
        logger: { log: () => undefined },
        strict: { stagingParentDir },
      }),
    ).rejects.toThrow(/Cannot find module 'vitest'/);
    // Cleaned up: no staging folder left behind.
    expect(readdirSync(stagingParentDir)).toEqual([]);
  });

  it('reads .funcignore as gitignore does', () => {
    const ignored = funcIgnore('# comment\n/.git\n/test\n*.md\nnode_modules\nbuild/\n!KEEP.md\ndocs/**/*.png\n');
    expect(ignored('test', true)).toBe(true);
    expect(ignored('src/test', true)).toBe(false);
    expect(ignored('README.md', false)).toBe(true);
    expect(ignored('src/deep/notes.md', false)).toBe(true);
    expect(ignored('KEEP.md', false)).toBe(false);
    expect(ignored('node_modules', true)).toBe(true);
    expect(ignored('a/node_modules', true)).toBe(true);
    expect(ignored('build', false)).toBe(false);
    expect(ignored('x/build', true)).toBe(true);
    expect(ignored('docs/shots/a.png', false)).toBe(true);
    expect(ignored('docs/a.png', false)).toBe(true);
    expect(ignored('dist/functions/a.js', false)).toBe(false);
  });
});

describe('strict host: the app', () => {
  let stack: AppStack;
  const warnings: string[] = [];

  beforeAll(async () => {
    if (!existsSync(path.join(projectRoot, 'dist', 'functions')))
      throw new Error('the strict app tests run the build: run `npm run build` first');
    stack = await startAppStack({
      projectRoot,
      hostId: 'strict-app',
      strict: true,
      extraSettings: { AzureWebJobsDisableHomepage: 'true', ICF_CACHE_DIR: path.join(projectRoot, '.cache') },
      log: (level, message) => {
        if (level === 'warning' || level === 'error') warnings.push(message);
      },
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('shadows no route: the page catch-all sorts after every other route', () => {
    expect(warnings).toEqual([]);
  });

  it('serves the page at / and its assets with no key, /webPage as a 404, and the API only with a key', async () => {
    const page = await get(stack.host, '/');
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<title>Image classifier<\/title>/);
    for (const asset of ['/assets/app.js', '/assets/app.css']) expect((await get(stack.host, asset)).status).toBe(200);
    // `route: ''` would have been /webPage on Azure; the catch-all answers any other path with the app's JSON 404.
    expect(await get(stack.host, '/webPage')).toMatchObject({ status: 404, json: { error: 'NotFound' } });
    expect((await get(stack.host, '/api/datasets')).status).toBe(401);
    const key = stack.host.keys!.host['default']!;
    expect(await get(stack.host, '/api/datasets', { 'x-functions-key': key })).toMatchObject({
      status: 200,
      json: { datasets: [] },
    });
    expect((await get(stack.host, '/api/health')).status).toBe(200);
  });

  it('takes the blob webhook only with the blobs_extension system key or the master key', async () => {
    const route = '/runtime/webhooks/blobs?functionName=Host.Functions.ingest';
    const keys = stack.host.keys!;
    expect((await get(stack.host, route, {}, 'OPTIONS')).status).toBe(401);
    expect((await get(stack.host, route, { 'x-functions-key': keys.host['default']! }, 'OPTIONS')).status).toBe(401);
    for (const key of [keys.system['blobs_extension']!, keys.master]) {
      const answer = await get(
        stack.host,
        route,
        { 'x-functions-key': key, 'webhook-request-origin': 'eventgrid.azure.net' },
        'OPTIONS',
      );
      expect(answer.status).not.toBe(401);
    }
  });

  it('stages the build with production dependencies only', async () => {
    const staged = stack.host.stagedRoot!;
    const requireStaged = createRequire(path.join(staged, 'package.json'));
    expect(() => requireStaged.resolve('vitest')).toThrow(/Cannot find module 'vitest'/);
    expect(() => requireStaged.resolve('playwright-core')).toThrow(/Cannot find module/);
    expect(requireStaged.resolve('@azure/functions')).toContain(path.join('node_modules', '@azure', 'functions'));
    for (const dropped of ['test', 'infra', 'README.md', '.git', 'bench'])
      expect(existsSync(path.join(staged, dropped)), dropped).toBe(false);
    for (const kept of ['dist/functions/webPage.js', 'host.json', 'package.json', 'web/index.html'])
      expect(existsSync(path.join(staged, kept)), kept).toBe(true);
    expect(await readFile(path.join(staged, 'host.json'), 'utf8')).toBe(
      await readFile(path.join(projectRoot, 'host.json'), 'utf8'),
    );
  });
});
