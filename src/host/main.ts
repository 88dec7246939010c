// `npm start`: Azurite plus the local Functions host, with the app settings of local.settings.json
// (or local.settings.example.json when there is none), the way `func start` would run the app.
// `npm start -- --in-memory` keeps Azurite's data in memory only (nothing written, all gone on exit).
// `npm start -- --strict` is as strict as Azure: function keys checked (printed here), HTTP answered as the Functions
// host does, and the app run from a staging folder with what azd would ship (see localHost.ts).
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { ensureError, messageOf } from '../errors';
import { type RunningAzurite, startAzuriteProcess } from '../storage/azurite';
import { BLOB_WEBHOOK_PATH } from './blobWebhook';
import { startLocalHost } from './localHost';

const DEVELOPMENT_STORAGE = 'UseDevelopmentStorage=true';

async function main(): Promise<void> {
  const projectRoot = path.resolve(__dirname, '..', '..', '..');
  const settingsFile = ['local.settings.json', 'local.settings.example.json']
    .map((name) => path.join(projectRoot, name))
    .find((file) => existsSync(file));
  if (settingsFile) {
    const values = (JSON.parse(readFileSync(settingsFile, 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
    // As with func start, variables already set in the environment win over the file; an identity-based storage
    // connection in the environment (AzureWebJobsStorage__*) wins over the file's connection string.
    const identityStorage = Object.keys(process.env).some((key) => key.startsWith('AzureWebJobsStorage__'));
    for (const [key, value] of Object.entries(values)) {
      if (identityStorage && key === 'AzureWebJobsStorage') continue;
      process.env[key] ??= value;
    }
    console.log(`settings: ${path.relative(projectRoot, settingsFile)}`);
  }

  let azurite: RunningAzurite | undefined;
  const identityStorage = Object.keys(process.env).some((key) => key.startsWith('AzureWebJobsStorage__'));
  if (!identityStorage && (process.env['AzureWebJobsStorage'] ?? DEVELOPMENT_STORAGE) === DEVELOPMENT_STORAGE) {
    const location = path.join(projectRoot, '.azurite');
    const inMemory = process.argv.includes('--in-memory');
    azurite = await startAzuriteProcess({ location, inMemory });
    process.env['AzureWebJobsStorage'] = azurite.connectionString;
    console.log(
      `azurite: blob, queue and table on 127.0.0.1:10000-10002, ${inMemory ? 'data in memory only' : `data in ${path.relative(projectRoot, location)}/`}`,
    );
  }

  const strict = process.argv.includes('--strict');
  const httpPort = Number(process.env['FUNCTIONS_HTTPWORKER_PORT'] ?? process.env['PORT'] ?? 7071);
  // As Core Tools does: the app learns its own host name from WEBSITE_HOSTNAME (App Service sets it on Azure), and
  // its same-site check takes pages from there.
  process.env['WEBSITE_HOSTNAME'] ??= `localhost:${httpPort}`;
  const host = await startLocalHost({ projectRoot, settings: process.env, httpPort, strict });
  console.log(`functions host: ${host.url}`);
  for (const fn of host.functions) console.log(`  ${fn.name}: ${fn.trigger}`);
  if (host.keys) {
    const hostKey = host.keys.host['default']!;
    console.log(
      [
        `strict: the app runs from ${host.stagedRoot!}/ (what azd ships), and keys are checked as on Azure:`,
        '  send one as the x-functions-key header or the ?code= query parameter (kept in azure-webjobs-secrets, so they last',
        '  as long as the storage does)',
        `  host key "default" (every function-level route): ${hostKey}`,
        `  master key (admin routes, and every other): ${host.keys.master}`,
        `  system key blobs_extension (${BLOB_WEBHOOK_PATH}): ${host.keys.system['blobs_extension']!}`,
        `  web page: ${host.url}/ asks for the key (or open ${host.url}/?code=${encodeURIComponent(hostKey)})`,
        `  icf: ICF_FUNCTION_KEY=${hostKey} npx icf ... (or --key)`,
      ].join('\n'),
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    await host.stop();
    await azurite?.close();
    process.exit(0);
  };
  // The last resort: an error that escaped one invocation (an emitter without an 'error' listener, say) is logged,
  // and the host goes on serving the others, as the Functions host isolates invocations from each other.
  process.on('uncaughtException', (error) =>
    console.error(`functions host: an error escaped an invocation and was contained: ${error.stack ?? String(error)}`),
  );
  process.on('unhandledRejection', (reason) =>
    console.error(
      `functions host: a rejected promise nobody awaited was contained: ${ensureError(reason).stack ?? messageOf(reason)}`,
    ),
  );
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(messageOf(error));
  process.exit(1);
});
