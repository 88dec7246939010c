// The health report: settings valid and the storage account reachable.
import type { Services } from '../services';

export interface HealthReport {
  status: 'ok' | 'degraded';
  checks: { settings: string; storage: string };
}

export async function checkHealth(getServices: () => Promise<Services>): Promise<HealthReport> {
  let services: Services;
  try {
    services = await getServices();
  } catch (error) {
    return { status: 'degraded', checks: { settings: (error as Error).message, storage: 'not checked' } };
  }
  try {
    await services.storage.blobs.getContainerClient('incoming').getProperties();
    return { status: 'ok', checks: { settings: 'ok', storage: 'ok' } };
  } catch (error) {
    return { status: 'degraded', checks: { settings: 'ok', storage: `unreachable: ${(error as Error).message}` } };
  }
}
