// Keeps the deployment in step with the code, reading both sides from their sources: the settings src/config.ts
// validates, the functions' own registrations (loaded as the Functions host loads them) and the storage names of
// src/storage/names.ts, against local.settings.example.json, the Bicep app settings, storage resources and hooks.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

import { type FunctionMetadata, FunctionsCore, installFunctionsCore } from '../../src/host/functionsCore';
import { BLOB_CONTAINERS, QUEUES, TABLES } from '../../src/storage/names';
import type { BicepFile, BicepValue } from './bicep';
import {
  Expression,
  infraDir,
  isPlainObject,
  pick,
  readBicepFile,
  repoRoot,
  resourceOfType,
  textOf,
  valueOf,
  variableValue,
} from './bicep';

/** Settings the platform or SDKs read, not the app's code: allowed in the Bicep app settings besides the app's. */
const PLATFORM_SETTINGS = [
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  'AZURE_CLIENT_ID',
  'AzureWebJobsDisableHomepage',
];
/** What an identity-based storage connection needs (no connection string: the account has shared keys off). */
const IDENTITY_CONNECTION_SUFFIXES = [
  '__credential',
  '__clientId',
  '__blobServiceUri',
  '__queueServiceUri',
  '__tableServiceUri',
];

/** The setting names that src/config.ts validates: the keys of its `settingsSchema = z.object({...})`. */
function configSettingNames(): string[] {
  const file = path.join(repoRoot, 'src', 'config.ts');
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  let names: string[] | undefined;
  const visit = (node: ts.Node): void => {
    if (names) return;
    if (ts.isVariableDeclaration(node) && node.name.getText() === 'settingsSchema' && node.initializer) {
      const findObject = (inner: ts.Node): void => {
        if (names) return;
        if (ts.isCallExpression(inner) && inner.expression.getText() === 'z.object') {
          const [shape] = inner.arguments;
          if (shape && ts.isObjectLiteralExpression(shape)) {
            names = shape.properties.map((property) => property.name!.getText().replace(/^['"]|['"]$/g, ''));
          }
        }
        ts.forEachChild(inner, findObject);
      };
      findObject(node.initializer);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (!names)
    throw new Error('src/config.ts has no `settingsSchema = z.object({...})`: where are the settings read now?');
  return names;
}

/** The app's registered functions, collected as the worker collects them: through @azure/functions-core. */
async function registeredFunctions(): Promise<FunctionMetadata[]> {
  const core = new FunctionsCore(() => undefined);
  const uninstall = installFunctionsCore(core);
  try {
    const dir = path.join(repoRoot, 'functions');
    for (const name of readdirSync(dir).filter((file) => file.endsWith('.ts'))) await import(path.join(dir, name));
  } finally {
    uninstall();
  }
  if (core.functions.length === 0) throw new Error('the function files registered nothing');
  return core.functions.map((fn) => fn.metadata);
}

function triggerOf(fn: FunctionMetadata) {
  const trigger = Object.values(fn.bindings).find((binding) => binding.type?.endsWith('Trigger'));
  if (!trigger) throw new Error(`function ${fn.name} has no trigger binding`);
  return trigger;
}

let main: BicepFile;
let functionApp: BicepFile;
let trainer: BicepFile;
let functions: FunctionMetadata[];
let settingNames: string[];
/** The function app's settings as Bicep writes them: main.bicep's appSettings and those function.bicep adds. */
let bicepSettings: Map<string, BicepValue>;

beforeAll(async () => {
  const read = (file: string) => readBicepFile(path.join(infraDir, file));
  [main, functionApp, trainer] = await Promise.all([
    read('main.bicep'),
    read('app/function.bicep'),
    read('app/trainer.bicep'),
  ]);
  functions = await registeredFunctions();
  settingNames = configSettingNames();
  bicepSettings = new Map();
  const api = main.declarations.modules.find((module) => module.path === 'app/function.bicep');
  const fromMain = pick(api && valueOf(api.body), 'params.appSettings');
  if (!isPlainObject(fromMain)) throw new Error('main.bicep passes app/function.bicep no appSettings object');
  for (const [key, value] of Object.entries(fromMain)) bicepSettings.set(key, value);
  // function.bicep writes properties: union(appSettings, { ...identity-based settings... }).
  const config = resourceOfType(functionApp, 'Microsoft.Web/sites/config');
  const union = config.body.descendantsOfType('call_expression').find((call) => call?.text.startsWith('union('));
  if (!union) throw new Error('app/function.bicep: the appsettings resource is no longer union(appSettings, {...})');
  for (const object of union.descendantsOfType('object')) {
    const value = valueOf(object!);
    if (isPlainObject(value)) for (const [key, setting] of Object.entries(value)) bicepSettings.set(key, setting);
  }
});

describe('app settings', () => {
  it('reads the setting names from src/config.ts', () => {
    expect(settingNames).toContain('AzureWebJobsStorage');
    expect(settingNames.length).toBeGreaterThan(20);
  });

  it('local.settings.example.json lists every setting the code reads', () => {
    const { Values } = JSON.parse(readFileSync(path.join(repoRoot, 'local.settings.example.json'), 'utf8')) as {
      Values: Record<string, string>;
    };
    // A connection's identity-based fields (AzureWebJobsStorage__*) are the other form of its connection string.
    expect(settingNames.filter((name) => !(name in Values) && !name.includes('__'))).toEqual([]);
    const unread = Object.keys(Values).filter((name) => !settingNames.includes(name));
    expect(unread).toEqual(['FUNCTIONS_WORKER_RUNTIME']);
  });

  it('the Bicep app settings set every setting the code reads, storage connections by identity', () => {
    const connections = new Set([
      'AzureWebJobsStorage',
      ...functions
        .flatMap((fn) => Object.values(fn.bindings))
        .map((binding) => binding['connection'])
        .filter((connection): connection is string => typeof connection === 'string'),
    ]);
    const plain = settingNames.filter(
      (name) => !connections.has(name) && ![...connections].some((c) => name.startsWith(`${c}__`)),
    );
    expect(plain.filter((name) => !bicepSettings.has(name))).toEqual([]);
    for (const connection of connections) {
      expect(bicepSettings.has(connection), `${connection} must not be a connection string`).toBe(false);
      const missing = IDENTITY_CONNECTION_SUFFIXES.filter((suffix) => !bicepSettings.has(connection + suffix));
      expect({ connection, missing }).toEqual({ connection, missing: [] });
      expect(bicepSettings.get(`${connection}__credential`)).toBe('managedidentity');
    }
    const known = (name: string) =>
      settingNames.includes(name) ||
      PLATFORM_SETTINGS.includes(name) ||
      [...connections].some((c) => name.startsWith(`${c}__`));
    expect([...bicepSettings.keys()].filter((name) => !known(name))).toEqual([]);
  });

  it('every %SETTING% a binding names is set in Azure and locally', () => {
    const referenced = functions
      .flatMap((fn) => Object.values(fn.bindings).flatMap((binding) => Object.values(binding)))
      .flatMap((option) => (typeof option === 'string' ? [...option.matchAll(/%([^%]+)%/g)].map((m) => m[1]!) : []));
    expect(referenced).toContain('COLLECT_SCHEDULE');
    expect(referenced.filter((name) => !bicepSettings.has(name))).toEqual([]);
  });

  it('the trainer job reaches storage with the same identity-based settings', () => {
    const containers = pick(
      valueOf(resourceOfType(trainer, 'Microsoft.App/jobs').body),
      'properties.template.containers',
    );
    const [container] = Array.isArray(containers) ? containers : [];
    const env = pick(container, 'env');
    if (!Array.isArray(env)) throw new Error("app/trainer.bicep: the job's first container has no env list");
    const names = env.map((variable) => (isPlainObject(variable) ? variable['name'] : undefined));
    expect(
      IDENTITY_CONNECTION_SUFFIXES.map((suffix) => `AzureWebJobsStorage${suffix}`).filter((n) => !names.includes(n)),
    ).toEqual([]);
    expect(names).toContain('AZURE_CLIENT_ID');
    expect(names).not.toContain('AzureWebJobsStorage');
  });
});

describe('storage and function names', () => {
  it('Bicep creates exactly the containers, queues and tables of src/storage/names.ts', () => {
    expect(variableValue(main, 'blobContainerNames')).toEqual([...BLOB_CONTAINERS]);
    expect(variableValue(main, 'queueNames')).toEqual([...QUEUES]);
    expect(variableValue(main, 'tableNames')).toEqual([...TABLES]);
  });

  it('every queue a function listens on exists in Bicep', () => {
    const queues = functions
      .map(triggerOf)
      .filter((t) => t.type === 'queueTrigger')
      .map((t) => t['queueName']);
    expect(queues.length).toBeGreaterThan(0);
    expect(
      queues.filter((queue) => !(variableValue(main, 'queueNames') as BicepValue[]).includes(queue as string)),
    ).toEqual([]);
  });

  it("the blob trigger binds the blob's client, not its bytes (the host then reads none of a large blob)", () => {
    const ingest = functions.find((fn) => triggerOf(fn).type === 'blobTrigger')!;
    expect(triggerOf(ingest)['properties']).toEqual({ supportsDeferredBinding: 'true' });
  });

  it('the Event Grid subscription targets the blob-triggered function and its container', () => {
    const blobFunctions = functions.filter((fn) => triggerOf(fn).type === 'blobTrigger');
    expect(blobFunctions.map((fn) => fn.name)).toEqual([variableValue(main, 'ingestFunctionName')]);
    const container = String(triggerOf(blobFunctions[0]!)['path']).split('/')[0];
    expect(container).toBe(variableValue(main, 'incomingContainerName'));
  });

  it('the hooks need only outputs of main.bicep, and subscribe that function to blob-created events', async () => {
    // What azd itself puts in every hook's environment (its .env), besides the deployment's outputs.
    const outputs = new Set([...main.declarations.outputs.keys(), 'AZURE_SUBSCRIPTION_ID']);
    for (const hook of ['preprovision', 'postdeploy']) {
      const sh = readFileSync(path.join(infraDir, 'hooks', `${hook}.sh`), 'utf8');
      const ps1 = readFileSync(path.join(infraDir, 'hooks', `${hook}.ps1`), 'utf8');
      const shNeeds = [...sh.matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]!);
      const ps1Needs = [...ps1.matchAll(/foreach \(\$name in ([^)]*)\)/g)].flatMap((m) => m[1]!.match(/\w+/g) ?? []);
      expect(shNeeds.length).toBeGreaterThan(0);
      expect(ps1Needs.sort()).toEqual([...shNeeds].sort());
      expect(shNeeds.filter((name) => !outputs.has(name))).toEqual([]);
    }
    // postdeploy deploys app/blobSubscription.bicep, in both shells with exactly the parameters it declares.
    const subscription = await readBicepFile(path.join(infraDir, 'app', 'blobSubscription.bicep'));
    const declared = [...subscription.declarations.params.keys()].sort();
    for (const hook of ['postdeploy.sh', 'postdeploy.ps1']) {
      const text = readFileSync(path.join(infraDir, 'hooks', hook), 'utf8');
      expect(text).toContain('--template-file infra/app/blobSubscription.bicep');
      expect(text).toContain('systemKeys.blobs_extension');
      const parameters = text.slice(text.indexOf('--parameters'), text.indexOf('--output none'));
      const given = [...parameters.matchAll(/\b(\w+)=["$]/g)].map((m) => m[1]!).sort();
      expect({ hook, given }).toEqual({ hook, given: declared });
      expect(text).toMatch(/functionName="?\$(env:)?INGEST_FUNCTION_NAME/);
      expect(text).toMatch(/containerName="?\$(env:)?INCOMING_CONTAINER_NAME/);
    }
    const body = valueOf(resourceOfType(subscription, 'Microsoft.EventGrid/systemTopics/eventSubscriptions').body);
    expect(textOf(pick(body, 'properties.destination.properties.endpointUrl'))).toMatch(/\$\{webhookPath\}&code=/);
    expect(variableValue(subscription, 'webhookPath')).toEqual(
      new Expression("'/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}'"),
    );
    expect(pick(body, 'properties.filter')).toEqual({
      includedEventTypes: ['Microsoft.Storage.BlobCreated'],
      subjectBeginsWith: new Expression("'/blobServices/default/containers/${containerName}/'"),
    });
  });

  it('the app settings point the launcher at the job that trainer.bicep declares', () => {
    expect(bicepSettings.get('TRAIN_CONTAINERAPPS_JOB_NAME')).toEqual(new Expression('trainer.outputs.jobName'));
    expect(bicepSettings.get('TRAIN_CONTAINERAPPS_CONTAINER_NAME')).toEqual(
      new Expression('trainer.outputs.containerName'),
    );
    expect(trainer.declarations.outputs.has('jobName')).toBe(true);
  });
});
