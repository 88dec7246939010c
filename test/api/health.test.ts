// The anonymous health report says what is unhealthy and nothing more; the cause goes to the log.
import { describe, expect, it } from 'vitest';

import { checkHealth } from '../../src/api/health';
import { createServices } from '../../src/services';

describe('checkHealth', () => {
  it('keeps setting names and error texts out of the report, and logs them', async () => {
    const logged: string[] = [];
    const report = await checkHealth(
      () => createServices({}),
      (message) => logged.push(message),
    );
    expect(report).toEqual({
      status: 'degraded',
      checks: { settings: 'invalid (see the log)', storage: 'not checked' },
    });
    expect(JSON.stringify(report)).not.toMatch(/AzureWebJobsStorage/);
    expect(logged.join('\n')).toMatch(/AzureWebJobsStorage/);
  });
});
