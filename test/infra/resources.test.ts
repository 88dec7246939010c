// What the deployment promises, read from the Bicep: storage without shared keys, Flex Consumption on Node 22 with
// identity-authenticated deployment storage, monitoring without local auth, the least-privilege roles of the shared
// identity (names guid(scope, principal, role)), and the trainer job on a serverless GPU pulling as that identity.
import * as path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import type { BicepFile, BicepValue } from './bicep';
import { Expression, infraDir, pick, readBicepFile, resourceOfType, textOf, valueOf, variableValue } from './bicep';

const files: Record<string, BicepFile> = {};
beforeAll(async () => {
  for (const name of ['main', 'app/storage', 'app/function', 'app/rbac', 'app/trainer', 'core/monitoring']) {
    files[name] = await readBicepFile(path.join(infraDir, `${name}.bicep`));
  }
});

const body = (file: string, type: string) => valueOf(resourceOfType(files[file]!, type).body);

describe('the resources', () => {
  it('storage: Entra ID only, TLS 1.2, no anonymous blob access', () => {
    expect(pick(body('app/storage', 'Microsoft.Storage/storageAccounts'), 'properties')).toMatchObject({
      allowSharedKeyAccess: false,
      allowBlobPublicAccess: false,
      minimumTlsVersion: 'TLS1_2',
      supportsHttpsTrafficOnly: true,
    });
    expect(
      pick(body('app/storage', 'Microsoft.Storage/storageAccounts/blobServices/containers'), 'properties'),
    ).toEqual({
      publicAccess: 'None',
    });
  });

  it('function app: Flex Consumption, Node 22, deployment package read as the identity', () => {
    expect(pick(body('app/function', 'Microsoft.Web/serverfarms'), 'sku')).toEqual({
      name: 'FC1',
      tier: 'FlexConsumption',
    });
    const site = body('app/function', 'Microsoft.Web/sites');
    expect(pick(site, 'identity.type')).toBe('UserAssigned');
    const config = pick(site, 'properties.functionAppConfig');
    expect(pick(config, 'runtime')).toEqual({ name: 'node', version: '22' });
    expect(pick(config, 'deployment.storage')).toMatchObject({
      type: 'blobContainer',
      authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: new Expression('identity.id') },
    });
    expect(pick(config, 'scaleAndConcurrency')).toEqual({
      instanceMemoryMB: new Expression('instanceMemoryMB'),
      maximumInstanceCount: new Expression('maximumInstanceCount'),
    });
    expect(variableValue(files['main']!, 'deploymentContainerName')).toBeInstanceOf(Expression);
  });

  it('monitoring: Application Insights accepts Entra ID callers only', () => {
    expect(pick(body('core/monitoring', 'Microsoft.Insights/components'), 'properties.DisableLocalAuth')).toBe(true);
  });

  it('roles: the three storage data roles and Monitoring Metrics Publisher, named guid(scope, principal, role)', () => {
    const roles = variableValue(files['app/rbac']!, 'roles') as Record<string, BicepValue>;
    expect(roles).toEqual({
      storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
      storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
      storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
      monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
    });
    const assignments = [files['app/rbac']!, files['app/trainer']!].flatMap((file) =>
      file.declarations.resources
        .filter((resource) => resource.type === 'Microsoft.Authorization/roleAssignments')
        .map((resource) => valueOf(resource.body) as Record<string, BicepValue>),
    );
    expect(assignments).toHaveLength(5);
    for (const assignment of assignments) {
      const scope = textOf(assignment['scope']);
      const principal = textOf((assignment['properties'] as Record<string, BicepValue>)['principalId']);
      expect(textOf(assignment['name'])).toMatch(new RegExp(`^guid\\(${scope}\\.id, ${principal}, \\w+(\\.\\w+)*\\)$`));
    }
  });

  it('trainer: a manual job on the CPU profile unless a GPU is asked for, pulling with the identity, no volumes', () => {
    const environment = body('app/trainer', 'Microsoft.App/managedEnvironments');
    expect(pick(environment, 'properties.workloadProfiles')).toEqual(
      new Expression('usesGpu ? [consumptionProfile, gpuProfile] : [consumptionProfile]'),
    );
    expect(variableValue(files['app/trainer']!, 'usesGpu')).toEqual(
      new Expression("workloadProfileType != 'Consumption'"),
    );
    expect(variableValue(files['app/trainer']!, 'consumptionProfile')).toEqual({
      name: 'Consumption',
      workloadProfileType: 'Consumption',
    });
    expect(variableValue(files['app/trainer']!, 'gpuProfile')).toEqual({
      name: new Expression('gpuProfileName'),
      workloadProfileType: new Expression('workloadProfileType'),
    });
    expect(variableValue(files['main']!, 'trainerUsesGpu')).toBeInstanceOf(Expression);
    const job = body('app/trainer', 'Microsoft.App/jobs');
    expect(pick(job, 'properties.workloadProfileName')).toEqual(
      new Expression('usesGpu ? gpuProfileName : consumptionProfile.name'),
    );
    expect(pick(job, 'properties.configuration.triggerType')).toBe('Manual');
    expect(pick(job, 'properties.configuration.registries')).toEqual([
      { server: new Expression('registry.properties.loginServer'), identity: new Expression('identity.id') },
    ]);
    // An execution's start template replaces the job's containers and cannot carry volume mounts
    // (JobExecutionContainer), so the job must not rely on any.
    expect(pick(job, 'properties.template.volumes')).toBeUndefined();
    const containers = pick(job, 'properties.template.containers') as Record<string, BicepValue>[];
    for (const container of containers) expect(Object.keys(container)).not.toContain('volumeMounts');
    // The built-in Container Apps Jobs Operator role: no custom role definition to replicate before its assignment.
    expect(files['app/trainer']!.declarations.resources.map((resource) => resource.type)).not.toContain(
      'Microsoft.Authorization/roleDefinitions',
    );
    expect(variableValue(files['app/trainer']!, 'jobsOperatorRoleId')).toBe('b9a307c4-5aa3-4b52-ba60-2b17c136cd7b');
    const starter = files['app/trainer']!.declarations.resources.find((resource) => resource.symbol === 'jobStarter')!;
    expect((valueOf(starter.body) as Record<string, BicepValue>)['scope']).toEqual(new Expression('job'));
  });
});
