// The resources of infra/ against Bicep's own type data (../shared/azure-types: the types.json files of
// Azure/bicep-types-az), the checks `bicep build` makes with that data (these machines cannot run the Bicep CLI);
// then the checker itself on small templates, each with the mistake it must report.
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { sharedDataPath } from '../../src/localStack/sharedData';
import { AzureTypes, resourceTypeProblems } from './azureTypes';
import { bicepFiles, declarations, parseBicep, readBicepFile, repoRoot } from './bicep';

let types: AzureTypes | undefined;
/** The type data; throws, naming ../shared/azure-types, when it is missing (nothing here can be checked without it). */
function azureTypes(): AzureTypes {
  types ??= new AzureTypes(sharedDataPath('azure-types'));
  return types;
}

const templates = bicepFiles().map((file) => path.relative(repoRoot, file).split(path.sep).join('/'));

describe("infra/ against Bicep's resource types", () => {
  it('finds templates that declare resources', async () => {
    const counts = await Promise.all(
      templates.map(async (file) => (await readBicepFile(path.join(repoRoot, file))).declarations.resources.length),
    );
    expect(counts.reduce((sum, count) => sum + count, 0)).toBeGreaterThan(10);
  });

  it.each(templates)(
    '%s: known types, known and writable properties, required ones set, allowed values',
    async (file) => {
      expect(resourceTypeProblems(await readBicepFile(path.join(repoRoot, file)), azureTypes())).toEqual([]);
    },
  );
});

/** The problems of a template given as text, reported as if it were infra/snippet.bicep. */
async function problemsOf(source: string): Promise<string[]> {
  const root = await parseBicep(source);
  const file = path.join(repoRoot, 'infra', 'snippet.bicep');
  return resourceTypeProblems({ file, root, declarations: declarations(root) }, azureTypes());
}

const JOB = "resource job 'Microsoft.App/jobs@2025-07-01' =";
const CONTAINERS = "resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' =";

describe('resourceTypeProblems', () => {
  it('passes a correct resource, expressions, dictionaries, tags and Bicep keywords', async () => {
    expect(
      await problemsOf(`
${JOB} {
  name: jobName
  location: location
  tags: { 'azd-env-name': environmentName, any: 'thing' }
  identity: { type: 'UserAssigned', userAssignedIdentities: { '\${identity.id}': {} } }
  properties: {
    configuration: { triggerType: 'Manual', replicaTimeout: timeout, registries: registries }
    template: { containers: [{ name: 'trainer', image: image, resources: resources, volumeMounts: [] }] }
  }
  dependsOn: [other]
}`),
    ).toEqual([]);
  });

  it('reports an unknown property at its line and path, with the name it may have meant', async () => {
    expect(
      await problemsOf(`
${JOB} {
  name: 'j'
  location: 'westeurope'
  properties: {
    configuration: { triggerType: 'Manual', replicaTimeout: 600 }
    template: {
      containers: [
        { name: 'a' }
        {
          name: 'b'
          volumeMount: [{ volumeName: 'cache', mountPath: '/cache' }]
        }
      ]
    }
  }
}`),
    ).toEqual([
      'infra/snippet.bicep:12 job (Microsoft.App/jobs@2025-07-01): properties.template.containers[1].volumeMount ' +
        'is not a property of Container (did you mean volumeMounts?)',
    ]);
  });

  it('reports a read-only property, a missing required one and a name in the wrong case', async () => {
    expect(
      await problemsOf(`
${JOB} {
  name: 'j'
  properties: {
    provisioningState: 'Succeeded'
    configuration: { TriggerType: 'Manual' }
  }
}`),
    ).toEqual([
      'infra/snippet.bicep:5 job (Microsoft.App/jobs@2025-07-01): properties.provisioningState is read-only in JobProperties',
      'infra/snippet.bicep:6 job (Microsoft.App/jobs@2025-07-01): properties.configuration.TriggerType ' +
        'is written triggerType in JobConfiguration',
      'infra/snippet.bicep:6 job (Microsoft.App/jobs@2025-07-01): properties.configuration.replicaTimeout ' +
        'is required in JobConfiguration but not set',
      'infra/snippet.bicep:2 job (Microsoft.App/jobs@2025-07-01): location is required in Microsoft.App/jobs but not set',
    ]);
  });

  it('reports literals outside a closed set (both branches of a ternary) and of the wrong kind', async () => {
    expect(
      await problemsOf(`
${CONTAINERS} {
  parent: blobService
  name: 'ccc'
  properties: {
    publicAccess: 'none'
    defaultEncryptionScope: 12
    immutableStorageWithVersioning: { enabled: 'yes' }
  }
}
resource other 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  name: 'ddd'
  properties: { publicAccess: anonymous ? 'Blob' : 'Private' }
}`),
    ).toEqual([
      'infra/snippet.bicep:6 containers (Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01): ' +
        "properties.publicAccess 'none' is not one of 'Container', 'Blob', 'None' (did you mean 'None'?)",
      'infra/snippet.bicep:7 containers (Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01): ' +
        'properties.defaultEncryptionScope must be a string, not 12',
      'infra/snippet.bicep:8 containers (Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01): ' +
        "properties.immutableStorageWithVersioning.enabled must be true or false, not 'yes'",
      'infra/snippet.bicep:13 other (Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01): ' +
        "properties.publicAccess 'Private' is not one of 'Container', 'Blob', 'None'",
    ]);
  });

  it('any string passes an open union (its values and StringType), as in Bicep', async () => {
    expect(
      await problemsOf(`${JOB} {
  name: 'j'
  location: 'l'
  properties: { configuration: { triggerType: 'Sometimes', replicaTimeout: 1 } }
}`),
    ).toEqual([]);
  });

  it('checks the body of a resource loop and of a condition, and of a property loop', async () => {
    expect(
      await problemsOf(`
${CONTAINERS} [for name in names: {
  name: name
  properties: { publicAcess: 'None' }
}]
resource maybe 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for name in names: if (on) {
  name: name
  properties: { metadata: { owner: 'me' }, publicAccess: 'Private' }
}]
${JOB} if (on) {
  name: 'j'
  location: 'l'
  properties: {
    configuration: { triggerType: 'Manual', replicaTimeout: 1 }
    template: { volumes: [for v in volumes: { name: v, storageType: 'EmptyDir', size: 1 }] }
  }
}`),
    ).toEqual([
      'infra/snippet.bicep:4 containers (Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01): ' +
        'properties.publicAcess is not a property of ContainerProperties (did you mean publicAccess?)',
      'infra/snippet.bicep:8 maybe (Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01): ' +
        "properties.publicAccess 'Private' is not one of 'Container', 'Blob', 'None'",
      'infra/snippet.bicep:15 job (Microsoft.App/jobs@2025-07-01): properties.template.volumes[for].size ' +
        'is not a property of Volume',
    ]);
  });

  it('picks the element of a discriminated object by its discriminator', async () => {
    const subscription = (destination: string) => `
resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 's'
  properties: { destination: ${destination} }
}`;
    expect(await problemsOf(subscription("{ endpointType: 'WebHook', properties: { endpointUrl: url } }"))).toEqual([]);
    expect(await problemsOf(subscription("{ endpointType: 'WebHook', properties: { resourceId: id } }"))).toEqual([
      'infra/snippet.bicep:5 subscription (Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15): ' +
        'properties.destination.properties.resourceId is not a property of WebHookEventSubscriptionDestinationProperties',
    ]);
    expect(await problemsOf(subscription("{ endpointType: 'Webhook' }"))).toEqual([
      'infra/snippet.bicep:5 subscription (Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15): ' +
        "properties.destination.endpointType is 'Webhook', not 'WebHook'",
    ]);
  });

  it('reports a type without type data, naming the file to add; existing resources for their type only', async () => {
    expect(
      await problemsOf(`
resource thing 'Microsoft.Nothing/things@2020-01-01' existing = { name: 'x' }
resource job 'Microsoft.App/jobz@2025-07-01' = { name: 'x' }
resource known 'Microsoft.App/jobs@2025-07-01' existing = { name: 'x', whatever: true }`),
    ).toEqual([
      'infra/snippet.bicep:2 thing (Microsoft.Nothing/things@2020-01-01): no type data: add ' +
        '../shared/azure-types/microsoft.nothing@2020-01-01.json (the types.json at ' +
        'generated/<provider>/microsoft.nothing/2020-01-01/ of Azure/bicep-types-az)',
      expect.stringMatching(
        /^infra\/snippet\.bicep:3 job \(Microsoft\.App\/jobz@2025-07-01\): microsoft\.app@2025-07-01\.json has no resource type Microsoft\.App\/jobz@2025-07-01/,
      ),
    ]);
  });
});
