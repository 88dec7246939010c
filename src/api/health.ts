// The health report: settings valid and the storage account reachable. The endpoint is anonymous, so it says only
// what is unhealthy; the cause (setting names, the storage address, the error text) goes to the log.
import { messageOf } from '../errors';
import type { Services } from '../services';
import { INCOMING_CONTAINER } from '../storage/names';

export interface HealthReport {
  status: 'ok' | 'degraded';
  checks: { settings: string; storage: string };
}

export async function checkHealth(
  getServices: () => Promise<Services>,
  log: (message: string) => void = () => undefined,
): Promise<HealthReport> {
  let services: Services;
  try {
    services = await getServices();
  } catch (error) {
    log(`health: settings invalid: ${messageOf(error)}`);
    return { status: 'degraded', checks: { settings: 'invalid (see the log)', storage: 'not checked' } };
  }
  try {
    await services.storage.blobs.getContainerClient(INCOMING_CONTAINER).getProperties();
    return { status: 'ok', checks: { settings: 'ok', storage: 'ok' } };
  } catch (error) {
    log(`health: storage unreachable: ${messageOf(error)}`);
    return { status: 'degraded', checks: { settings: 'ok', storage: 'unreachable (see the log)' } };
  }
}
