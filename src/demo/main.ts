// `npm run demo`: the whole pipeline offline in one command. Starts Azurite (data in .azurite/, as `npm start`) and
// the local Functions host on http://localhost:7071, collects the `demo` dataset from the offline provider's
// 7 x 3 clothing-pattern plan, waits for ingest, trains, classifies fresh images, prints a report, then keeps
// serving until Ctrl-C. A rerun reuses the dataset and model it finds (delete .azurite/ to start over).
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { messageOf } from '../errors';
import { type RunningHost, startLocalHost } from '../host/localHost';
import { type RunningAzurite, startAzuriteProcess } from '../storage/azurite';
import { DemoApi } from './demoApi';
import { runDemo } from './pipeline';
import { progressBars } from './progressBars';
import { formatDemoReport } from './report';

const DATASET = 'demo';
const HTTP_PORT = 7071;
/**
 * Sized for 5 minutes on 2 cores where ResNet50 runs at about 5 images/s, with the default recipe search: 21 queries
 * x 6 images is about 120 accepted, 95 of them training images; the search extracts 6 views of each (plain and
 * mirror in two preprocessings, two augmented), about 570 backbone runs, plus the test images' (README, Train).
 */
const IMAGES_PER_QUERY = 6;
/** The default recipe: the train request's defaults (augmentedViews 2, searchBudgetInS 300). */
const TRAIN_OPTIONS = {};

async function main(): Promise<void> {
  const projectRoot = path.resolve(__dirname, '..', '..', '..');
  loadLocalSettings(projectRoot);
  const plan = JSON.parse(readFileSync(path.join(projectRoot, 'examples', 'clothing-offline.json'), 'utf8')) as Record<
    string,
    unknown
  >;

  const started = performance.now();
  const location = path.join(projectRoot, '.azurite');
  const azurite: RunningAzurite = await startAzuriteProcess({ location });
  process.env['AzureWebJobsStorage'] = azurite.connectionString;
  let host: RunningHost | undefined;
  const stop = async (code: number) => {
    if (code === 0) console.log('stopping');
    await host?.stop();
    await azurite.close();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    host = await startLocalHost({
      projectRoot,
      settings: process.env,
      httpPort: HTTP_PORT,
      // The host's own lines would tear the progress bars; only its errors are shown.
      logger: { log: (level, message) => (level === 'error' ? console.error(`host: ${message}`) : undefined) },
    });
    const baseUrl = `http://localhost:${HTTP_PORT}`;
    console.log(
      `azurite: data in .azurite/; functions host: ${baseUrl} (${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
    const report = await runDemo({
      api: new DemoApi({ baseUrl }),
      dataset: DATASET,
      plan: { ...plan, imagesPerQuery: IMAGES_PER_QUERY },
      trainOptions: TRAIN_OPTIONS,
      progress: progressBars(),
    });
    console.log(`\n${formatDemoReport(report, { baseUrl })}`);
    console.log(
      `\nDone in ${((performance.now() - started) / 1000).toFixed(0)} s. Serving until Ctrl-C; ` +
        'a rerun reuses this dataset and model (delete .azurite/ to start over).',
    );
  } catch (error) {
    console.error(`demo failed: ${messageOf(error)}`);
    await stop(1);
  }
}

/** As `npm start`: local.settings.json (or the example) under the environment, which wins. */
function loadLocalSettings(projectRoot: string): void {
  const file = ['local.settings.json', 'local.settings.example.json']
    .map((name) => path.join(projectRoot, name))
    .find((candidate) => existsSync(candidate));
  if (!file) return;
  const values = (JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
  for (const [key, value] of Object.entries(values)) process.env[key] ??= value;
  if (process.env['AzureWebJobsStorage'] !== 'UseDevelopmentStorage=true')
    throw new Error(
      `AzureWebJobsStorage is set to another storage account; the demo runs on its own Azurite (unset it)`,
    );
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${messageOf(error)}`);
  process.exit(1);
});
