// Hand-made services for tests of the HTTP edge: the app's validated settings (a storage account that is never
// reached) and only the domain objects a test gives, shaped as the handlers use them. Anything else a handler
// reaches for is missing, and the test fails on it.
import { AZURITE_ACCOUNT_KEY, loadSettings } from '../../src/config';
import type { Services } from '../../src/services';

/** A storage account on a closed port: nothing answers there, so a test that reached storage would fail. */
const UNREACHABLE = 'http://127.0.0.1:9/devstoreaccount1';
export const UNREACHABLE_STORAGE =
  `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${AZURITE_ACCOUNT_KEY};` +
  `BlobEndpoint=${UNREACHABLE};QueueEndpoint=${UNREACHABLE};TableEndpoint=${UNREACHABLE};`;

type Parts = { [K in Exclude<keyof Services, 'settings'>]?: Partial<Record<keyof Services[K], unknown>> };

export function handMadeServices(parts: Parts): Services {
  const settings = loadSettings({ AzureWebJobsStorage: UNREACHABLE_STORAGE });
  // Structural fakes of classes with private state: the one cast, here.
  return { settings, ...parts } as unknown as Services;
}
