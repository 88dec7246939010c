// The app with keyless storage, end to end: `npm start`'s host (dist/src/host/main.js) in a child process with only
// the identity-based settings Azure's templates give (AzureWebJobsStorage__*Uri, __credential, __clientId), against
// Azurite in OAuth mode over HTTPS. Its tokens come from a fake managed-identity endpoint on loopback that speaks
// App Service's protocol (IDENTITY_ENDPOINT, IDENTITY_HEADER), which @azure/identity's ManagedIdentityCredential
// uses there. The child has no account key at all, so every blob, queue and table call it makes is a token's.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type RunningAzurite, startAzurite } from '../../src/storage/azurite';
import { projectRoot } from '../../src/util/paths';
import { waitFor } from '../support/waitFor';

const CLIENT_ID = '7d9a5a3e-2f4b-4c61-9d7e-0c5b1f2a3e4d';
const IDENTITY_HEADER = 'fake-identity-header-secret';

interface TokenRequest {
  resource: string | null;
  clientId: string | null;
  header: string | undefined;
}

/** An unsigned JWT with the claims Azurite's basic OAuth checks: issuer, audience, lifetime. */
function storageToken(): { token: string; expiresOn: number } {
  const now = Math.floor(Date.now() / 1000);
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = {
    aud: 'https://storage.azure.com',
    iss: 'https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/',
    iat: now - 60,
    nbf: now - 60,
    exp: now + 3600,
    oid: '11059fcc-5514-4800-b5f8-49808b9cfab6',
    appid: CLIENT_ID,
    tid: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  };
  return { token: `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`, expiresOn: claims.exp };
}

async function startIdentityEndpoint(): Promise<{ url: string; requests: TokenRequest[]; close(): Promise<void> }> {
  const requests: TokenRequest[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const header = req.headers['x-identity-header'] as string | undefined;
    requests.push({ resource: url.searchParams.get('resource'), clientId: url.searchParams.get('client_id'), header });
    if (header !== IDENTITY_HEADER) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'bad identity header' }));
      return;
    }
    const { token, expiresOn } = storageToken();
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        access_token: token,
        expires_on: String(expiresOn),
        resource: url.searchParams.get('resource'),
        token_type: 'Bearer',
        client_id: url.searchParams.get('client_id') ?? CLIENT_ID,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/msi/token`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const hostEntry = path.join(projectRoot(), 'dist', 'src', 'host', 'main.js');

describe('keyless storage (identity-based settings, Azurite OAuth over HTTPS)', () => {
  let dir: string;
  let azurite: RunningAzurite;
  let identity: Awaited<ReturnType<typeof startIdentityEndpoint>>;
  let child: ChildProcess;
  let output = '';
  let appUrl: string;
  let certificate: Buffer;

  beforeAll(async () => {
    if (!existsSync(hostEntry))
      throw new Error(`${hostEntry} is missing: this test runs the built host (npm run build)`);
    dir = await mkdtemp(path.join(os.tmpdir(), 'icf-keyless-'));
    const certPath = path.join(dir, 'cert.pem');
    const keyPath = path.join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyPath,
        '-out',
        certPath,
      ],
      { stdio: 'ignore' },
    );
    azurite = await startAzurite({
      blobPort: 0,
      queuePort: 0,
      tablePort: 0,
      https: { certPath, keyPath },
      oauth: 'basic',
    });
    identity = await startIdentityEndpoint();
    const port = await freePort();
    appUrl = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [hostEntry], {
      cwd: projectRoot(),
      env: {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        // Trust Azurite's self-signed certificate, as a machine trusts a real account's.
        NODE_EXTRA_CA_CERTS: certPath,
        FUNCTIONS_HTTPWORKER_PORT: String(port),
        AzureWebJobsStorage__blobServiceUri: azurite.blobEndpoint,
        AzureWebJobsStorage__queueServiceUri: azurite.queueEndpoint,
        AzureWebJobsStorage__tableServiceUri: azurite.tableEndpoint,
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__clientId: CLIENT_ID,
        IDENTITY_ENDPOINT: identity.url,
        IDENTITY_HEADER,
        ICF_CACHE_DIR: path.join(dir, 'cache'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`the host exited (${code}) before it served:\n${output}`))),
    );
    await Promise.race([
      waitFor('the host to serve', async () => (output.includes('functions host: http') ? true : undefined), 60_000),
      exited,
    ]);
    certificate = await readFile(certPath);
  }, 90_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await identity?.close();
    await azurite?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('uses no key: Azurite refuses a request that carries no token, the app answers', async () => {
    expect(azurite.blobEndpoint).toMatch(/^https:/);
    const anonymous = await new Promise<number>((resolve, reject) =>
      https
        .get(`${azurite.blobEndpoint}?comp=list`, { ca: certificate }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject),
    );
    expect([401, 403]).toContain(anonymous);
    const response = await fetch(`${appUrl}/api/health`);
    expect(response.status).toBe(200);
    // The app got its tokens from the identity endpoint, for storage, as the user-assigned identity.
    expect(identity.requests.length).toBeGreaterThan(0);
    for (const request of identity.requests) {
      expect(request).toEqual({ resource: 'https://storage.azure.com', clientId: CLIENT_ID, header: IDENTITY_HEADER });
    }
  });

  it('collects, ingests and catalogues a data set through blobs, queues and tables with tokens only', async () => {
    const plan = {
      dimensions: { item: ['t-shirt'], attribute: ['striped', 'dotted'] },
      template: '{attribute} {item}',
      labelFrom: 'attribute',
      imagesPerQuery: 3,
      provider: 'offline',
    };
    const saved = await fetch(`${appUrl}/api/datasets/keyless/collection-plan`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(plan),
    });
    expect(saved.status, await saved.clone().text()).toBe(200);
    const started = await fetch(`${appUrl}/api/datasets/keyless/collect`, { method: 'POST' });
    expect(started.status, await started.clone().text()).toBe(202);
    const summary = await waitFor(
      'six collected images accepted into the catalog',
      async () => {
        const response = await fetch(`${appUrl}/api/datasets/keyless`);
        if (response.status !== 200) return undefined;
        const body = (await response.json()) as { images: Record<string, number>; labels: Record<string, unknown> };
        return body.images['accepted'] === 6 ? body : undefined;
      },
      90_000,
    );
    expect(Object.keys(summary.labels).sort()).toEqual(['dotted', 'striped']);
    expect(output).not.toMatch(/AuthenticationFailed|AuthorizationFailure|CredentialUnavailable/);
  }, 120_000);
});
