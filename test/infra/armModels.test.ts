// The Container Apps environment and trainer job of infra/app/trainer.bicep, checked against the models of the ARM
// SDK the app itself starts the job with (@azure/arm-appcontainers): the same API version, and every property a
// known one of the right type, the required ones present.
import * as path from 'node:path';

import { ContainerAppsAPIClient } from '@azure/arm-appcontainers';
import type { TokenCredential } from '@azure/identity';
import { beforeAll, describe, expect, it } from 'vitest';

import { armProblems, sdkMappers } from './armModel';
import { type BicepFile, declarations, infraDir, parseBicep, readBicepFile, resourceOfType, valueOf } from './bicep';

const mappers = sdkMappers('@azure/arm-appcontainers');
// The client only reads its API version here; it sends nothing.
const noCredential: TokenCredential = { getToken: () => Promise.resolve(null) };
const sdkApiVersion = new ContainerAppsAPIClient(noCredential, '00000000-0000-0000-0000-000000000000').apiVersion;

let trainer: BicepFile;
beforeAll(async () => {
  trainer = await readBicepFile(path.join(infraDir, 'app', 'trainer.bicep'));
});

describe('Container Apps resources against @azure/arm-appcontainers', () => {
  it.each([
    ['Microsoft.App/managedEnvironments', 'ManagedEnvironment'],
    ['Microsoft.App/jobs', 'Job'],
  ])('%s matches the SDK model %s', (type, className) => {
    const resource = resourceOfType(trainer, type);
    expect(resource.apiVersion).toBe(sdkApiVersion);
    expect(armProblems(valueOf(resource.body), className, mappers)).toEqual([]);
  });

  it('reports misspelled, missing, read-only and mistyped properties with their path', async () => {
    const root = await parseBicep(`
resource job 'Microsoft.App/jobs@${sdkApiVersion}' = {
  name: 'j'
  location: 'westeurope'
  properties: {
    provisioningState: 'Succeeded'
    configuration: {
      triggerType: 'Manual'
      replicaTimout: 600
      manualTriggerConfig: { parallelism: '1' }
    }
    template: { containers: [{ name: 'trainer', image: 'x', env: [{ name: 'A', valu: 'b' }] }] }
  }
}`);
    const [job] = declarations(root).resources;
    expect(armProblems(valueOf(job!.body), 'Job', mappers)).toEqual([
      'Job.properties.provisioningState: is read-only in Job.properties',
      expect.stringMatching(/^Job\.properties\.configuration\.replicaTimout: JobConfiguration has no such property/),
      'Job.properties.configuration.manualTriggerConfig.parallelism: must be a number, not "1"',
      'Job.properties.configuration.replicaTimeout: is required in JobConfiguration',
      expect.stringMatching(/^Job\.properties\.template\.containers\[0\]\.env\[0\]\.valu: EnvironmentVar has no such/),
    ]);
  });
});
