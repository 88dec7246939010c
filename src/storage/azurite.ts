// Starts Azurite's blob, queue and table servers inside this process, for `npm start` and for tests.
// Azurite has no public API for this; these deep imports are the classes its own CLI uses (pinned 3.35).
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';

import { AZURITE_ACCOUNT_KEY, AZURITE_ACCOUNT_NAME } from '../config';
import { messageOf } from '../errors';

/* eslint-disable @typescript-eslint/no-require-imports */
interface AzuriteServer {
  start(): Promise<void>;
  close(): Promise<void>;
  getHttpServerAddress(): string;
}
type ServerConstructor = new (configuration: unknown) => AzuriteServer;
type ConfigurationConstructor = new (...args: unknown[]) => unknown;

function load<T>(modulePath: string): T {
  return (require(`azurite/dist/src/${modulePath}`) as { default: T }).default;
}

export interface StartAzuriteOptions {
  /** Folder for Azurite's data; omit to keep everything in memory (tests). */
  location?: string;
  host?: string;
  /** Ports; 0 picks free ones. Defaults are Azurite's own: 10000, 10001, 10002. */
  blobPort?: number;
  queuePort?: number;
  tablePort?: number;
  /** Serve HTTPS with this certificate and key (PEM files); Azurite's OAuth needs it. */
  https?: { certPath: string; keyPath: string };
  /** 'basic': also accept Microsoft Entra ID bearer tokens (checked for issuer, audience and lifetime, not signed). */
  oauth?: 'basic';
}

export interface RunningAzurite {
  connectionString: string;
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  close(): Promise<void>;
}

export async function startAzurite(options: StartAzuriteOptions = {}): Promise<RunningAzurite> {
  const host = options.host ?? '127.0.0.1';
  const inMemory = options.location === undefined;
  const location = options.location ?? '.';
  if (!inMemory) mkdirSync(location, { recursive: true });
  const certPath = options.https?.certPath ?? '';
  const keyPath = options.https?.keyPath ?? '';
  const loose = true;
  const skipApiVersionCheck = true;
  const accessLog = false;
  const debugLog = false;

  const BlobConfiguration = load<ConfigurationConstructor>('blob/BlobConfiguration');
  const BlobServer = load<ServerConstructor>('blob/BlobServer');
  const QueueConfiguration = load<ConfigurationConstructor>('queue/QueueConfiguration');
  const QueueServer = load<ServerConstructor>('queue/QueueServer');
  const TableConfiguration = load<ConfigurationConstructor>('table/TableConfiguration');
  const TableServer = load<ServerConstructor>('table/TableServer');

  // Argument order follows each Configuration constructor of Azurite 3.35.
  const blob = new BlobServer(
    new BlobConfiguration(
      host,
      options.blobPort ?? 10000,
      5,
      path.join(location, '__azurite_db_blob__.json'),
      path.join(location, '__azurite_db_blob_extent__.json'),
      [{ locationId: 'Default', locationPath: path.join(location, '__blobstorage__'), maxConcurrency: 10 }],
      accessLog,
      undefined,
      debugLog,
      undefined,
      loose,
      skipApiVersionCheck,
      certPath,
      keyPath,
      '',
      options.oauth,
      false,
      inMemory,
    ),
  );
  const queue = new QueueServer(
    new QueueConfiguration(
      host,
      options.queuePort ?? 10001,
      5,
      path.join(location, '__azurite_db_queue__.json'),
      path.join(location, '__azurite_db_queue_extent__.json'),
      [{ locationId: 'Default', locationPath: path.join(location, '__queuestorage__'), maxConcurrency: 1 }],
      accessLog,
      undefined,
      debugLog,
      undefined,
      loose,
      skipApiVersionCheck,
      certPath,
      keyPath,
      '',
      options.oauth,
      false,
      inMemory,
    ),
  );
  const table = new TableServer(
    new TableConfiguration(
      host,
      options.tablePort ?? 10002,
      5,
      path.join(location, '__azurite_db_table__.json'),
      debugLog,
      accessLog,
      undefined,
      undefined,
      loose,
      skipApiVersionCheck,
      certPath,
      keyPath,
      '',
      options.oauth,
      false,
      inMemory,
    ),
  );

  const servers = [blob, queue, table];
  const started: AzuriteServer[] = [];
  try {
    for (const server of servers) {
      await server.start();
      started.push(server);
    }
  } catch (error) {
    await Promise.allSettled(started.map((server) => server.close()));
    const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
    throw new Error(
      `Azurite could not start on ${host}: ${messageOf(error)}` +
        (inUse
          ? '. Is another Azurite already using these ports? Stop it, or set AzureWebJobsStorage to its connection string.'
          : ''),
      { cause: error },
    );
  }

  return describeAzurite(
    `${blob.getHttpServerAddress()}/${AZURITE_ACCOUNT_NAME}`,
    `${queue.getHttpServerAddress()}/${AZURITE_ACCOUNT_NAME}`,
    `${table.getHttpServerAddress()}/${AZURITE_ACCOUNT_NAME}`,
    async () => {
      await Promise.allSettled(servers.map((server) => server.close()));
    },
  );
}

/**
 * Starts Azurite as a child process (for `npm start`): it then has an event loop of its own instead of
 * sharing one with the functions it serves. Ports default to Azurite's own; 0 picks free ones.
 */
export async function startAzuriteProcess(
  options: StartAzuriteOptions & { inMemory?: boolean },
): Promise<RunningAzurite> {
  const host = options.host ?? '127.0.0.1';
  const inMemory = options.inMemory ?? options.location === undefined;
  if (!inMemory) mkdirSync(options.location!, { recursive: true });
  const cli = require.resolve('azurite/dist/src/azurite.js');
  const child = spawn(
    process.execPath,
    [
      cli,
      ...(inMemory ? ['--inMemoryPersistence'] : ['--location', options.location!]),
      '--silent',
      '--skipApiVersionCheck',
      '--loose',
      '--disableTelemetry',
      '--blobHost',
      host,
      '--blobPort',
      String(options.blobPort ?? 10000),
      '--queueHost',
      host,
      '--queuePort',
      String(options.queuePort ?? 10001),
      '--tableHost',
      host,
      '--tablePort',
      String(options.tablePort ?? 10002),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stopChild = () => child.kill('SIGTERM');
  process.once('exit', stopChild);
  const urls = await new Promise<Record<string, string>>((resolve, reject) => {
    let output = '';
    const found: Record<string, string> = {};
    const onOutput = (chunk: Buffer) => {
      output += chunk.toString();
      for (const match of output.matchAll(/Azurite (Blob|Queue|Table) service is successfully listening at (\S+)/g)) {
        found[match[1]!] = match[2]!;
      }
      if (found['Blob'] && found['Queue'] && found['Table']) resolve(found);
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    child.once('exit', (code) => {
      process.removeListener('exit', stopChild);
      const inUse = /EADDRINUSE/.test(output);
      reject(
        new Error(
          `Azurite exited (${code}) before it was ready` +
            (inUse
              ? ': its ports are in use. Is another Azurite running? Stop it, or set AzureWebJobsStorage to its connection string'
              : `: ${output.trim().slice(-500)}`),
        ),
      );
    });
  });
  return describeAzurite(
    `${urls['Blob']}/${AZURITE_ACCOUNT_NAME}`,
    `${urls['Queue']}/${AZURITE_ACCOUNT_NAME}`,
    `${urls['Table']}/${AZURITE_ACCOUNT_NAME}`,
    async () => {
      process.removeListener('exit', stopChild);
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  );
}

function describeAzurite(
  blobEndpoint: string,
  queueEndpoint: string,
  tableEndpoint: string,
  close: () => Promise<void>,
): RunningAzurite {
  return {
    blobEndpoint,
    queueEndpoint,
    tableEndpoint,
    connectionString:
      `DefaultEndpointsProtocol=${blobEndpoint.startsWith('https:') ? 'https' : 'http'};AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};` +
      `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};TableEndpoint=${tableEndpoint};`,
    close,
  };
}
