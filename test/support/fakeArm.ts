// A fake Azure Resource Manager endpoint on loopback, over HTTPS (the SDK refuses bearer tokens over http),
// that speaks what starting a Container Apps job execution speaks: GET of the job (its template), a POST of .../start
// answered 202 with the execution's name and a Location under .../locations/{region}/containerappsjoboperationresults,
// which answers 403 as it does for an identity whose role is scoped to the job, and GET of an execution. It records
// each request so tests can check what the real SDK sent.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

export interface ArmRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization?: string;
  body?: unknown;
}

export interface FakeArm {
  endpoint: string;
  /** The certificate to trust (an https.Agent with it as `ca`). */
  ca: Buffer;
  requests: ArmRequest[];
  /** Answer the next start request with this status and ARM error code instead. */
  failNextStart(status: number, code: string, message: string): void;
  /** The status GET .../executions/{name} reports (Running until set). */
  setExecutionStatus(name: string, status: string): void;
  /** The job's template, as GET .../jobs/{job} answers it. */
  setJobTemplate(template: unknown): void;
  close(): Promise<void>;
}

export async function startFakeArm(): Promise<FakeArm> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fake-arm-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  const [key, cert] = await Promise.all([readFile(keyFile), readFile(certFile)]);
  const requests: ArmRequest[] = [];
  let failure: { status: number; code: string; message: string } | undefined;
  let executions = 0;
  const executionStatus = new Map<string, string>();
  let jobTemplate: unknown = { containers: [{ name: 'trainer', image: 'placeholder:1' }] };

  const server = https.createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      const text = Buffer.concat(chunks).toString('utf8');
      requests.push({
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        ...(text ? { body: JSON.parse(text) as unknown } : {}),
      });
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      const start =
        /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.App\/jobs\/([^/]+)\/start$/.exec(
          url.pathname,
        );
      if (req.method === 'POST' && start) {
        if (failure) {
          const { status, code, message } = failure;
          failure = undefined;
          json(status, { error: { code, message } });
          return;
        }
        executions += 1;
        const name = `trainer-job-exec-${executions}`;
        const operation = `https://127.0.0.1:${(server.address() as AddressInfo).port}/subscriptions/${start[1]}/providers/Microsoft.App/locations/westus3/containerappsjoboperationresults/start-${executions}?api-version=${url.searchParams.get('api-version')}`;
        json(
          202,
          { name, id: `${url.pathname.replace(/\/start$/, '')}/executions/${name}` },
          { location: operation, 'retry-after': '0' },
        );
        return;
      }
      if (
        req.method === 'GET' &&
        /\/providers\/Microsoft\.App\/locations\/[^/]+\/containerappsjoboperationresults\//.test(url.pathname)
      ) {
        json(403, {
          error: {
            code: 'AuthorizationFailed',
            message:
              'The client does not have authorization to perform action ' +
              "'Microsoft.App/locations/containerappsjoboperationresults/read' over scope '/subscriptions/...'",
          },
        });
        return;
      }
      const job = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.App\/jobs\/([^/]+)$/.exec(
        url.pathname,
      );
      if (req.method === 'GET' && job) {
        json(200, { name: job[1], id: url.pathname, location: 'westus3', properties: { template: jobTemplate } });
        return;
      }
      const execution =
        /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.App\/jobs\/[^/]+\/executions\/([^/]+)$/.exec(
          url.pathname,
        );
      if (req.method === 'GET' && execution) {
        const name = execution[1]!;
        json(200, {
          name,
          id: url.pathname,
          properties: { status: executionStatus.get(name) ?? 'Running', startTime: new Date().toISOString() },
        });
        return;
      }
      json(404, { error: { code: 'NotFound', message: `no route for ${req.method} ${url.pathname}` } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    endpoint: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ca: cert,
    requests,
    failNextStart: (status, code, message) => {
      failure = { status, code, message };
    },
    setExecutionStatus: (name, status) => {
      executionStatus.set(name, status);
    },
    setJobTemplate: (template) => {
      jobTemplate = template;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
