// Function keys as the Functions host checks them (Azure/azure-functions-host, src/WebJobs.Script.WebHost/Security:
// AuthenticationLevelHandler reads the `x-functions-key` header, else the `code` query parameter; SecretManager
// .GetAuthorizationLevelAsync ranks the master key (admin), then system keys (system), then host keys and the
// function's own keys (function); AuthUtility.PrincipalHasAuthLevelClaim lets admin through everywhere; the
// SystemKeyAuthLevel policy of /runtime/webhooks/{extension} takes the master key or the system key named
// `{extension}_extension`) and where it keeps them: blob container `azure-webjobs-secrets`, `{site}/host.json` and
// `{site}/{function}.json` (BlobStorageSecretsRepository, ScriptSecretSerializerV1), with the host id as the site.
import { randomBytes, timingSafeEqual } from 'node:crypto';

import type { ContainerClient } from '@azure/storage-blob';

export const SECRETS_CONTAINER = 'azure-webjobs-secrets';
/** The blob extension's webhook key (DefaultScriptWebHookProvider.GetKeyName: `{extension}_extension`). */
export const BLOBS_EXTENSION_KEY = 'blobs_extension';

export type AuthLevel = 'anonymous' | 'function' | 'admin';

export interface HostKeys {
  /** The master key: admin routes, and every other route. */
  master: string;
  /** Host keys by name: every function-level route. */
  host: Record<string, string>;
  /** System keys by name: `blobs_extension` for /runtime/webhooks/blobs. */
  system: Record<string, string>;
  /** Each function's own keys: function name, then key name (function-level routes of that function only). */
  functions: Record<string, Record<string, string>>;
}

/** Keys a caller fixes; the rest are generated (or read from storage). */
export interface GivenKeys {
  master?: string;
  host?: Record<string, string>;
  system?: Record<string, string>;
  functions?: Record<string, Record<string, string>>;
}

/** A new key: 40 random bytes in URL-safe base64 with its padding, the shape of SecretGenerator's keys. */
export function generateKey(): string {
  return randomBytes(40).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** The key a request presents: the x-functions-key header wins over ?code= (AuthenticationLevelHandler). */
export function presentedKey(headers: Readonly<Record<string, string | undefined>>, url: URL): string | undefined {
  const header = headers['x-functions-key'];
  if (header !== undefined) return header.split(',')[0]!.trim();
  return url.searchParams.get('code') ?? undefined;
}

type KeyLevel = { level: 'admin' | 'system' | 'function'; name: string } | undefined;

function levelOf(keys: HostKeys, value: string | undefined, functionName: string | undefined): KeyLevel {
  if (!value) return undefined;
  if (same(value, keys.master)) return { level: 'admin', name: 'master' };
  const match = (named: Record<string, string> | undefined) =>
    Object.entries(named ?? {}).find(([, key]) => same(value, key))?.[0];
  let name = match(keys.system);
  if (name) return { level: 'system', name };
  name = match(keys.host) ?? (functionName ? match(lowerKeys(keys.functions)[functionName.toLowerCase()]) : undefined);
  return name ? { level: 'function', name } : undefined;
}

/** Whether `value` opens a route of `required` level of function `functionName`. */
export function keyOpens(
  keys: HostKeys,
  required: AuthLevel,
  value: string | undefined,
  functionName: string,
): boolean {
  if (required === 'anonymous') return true;
  const found = levelOf(keys, value, functionName);
  if (found?.level === 'admin') return true;
  return required === 'function' && found?.level === 'function';
}

/** Whether `value` opens a host webhook that takes the system key `keyName` (or the master key). */
export function systemKeyOpens(keys: HostKeys, keyName: string, value: string | undefined): boolean {
  const found = levelOf(keys, value, undefined);
  return found?.level === 'admin' || (found?.level === 'system' && found.name === keyName);
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function lowerKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key.toLowerCase(), value]));
}

interface StoredKey {
  name: string;
  value: string;
  encrypted: boolean;
}

/**
 * The host's keys: those given, else those stored in `azure-webjobs-secrets` (so keys survive restarts, as on
 * Azure), else new ones (a `default` host key and function key, and the blob extension's system key); whatever was
 * not stored yet is written back in the Functions host's format.
 */
export async function loadKeys(options: {
  secrets: ContainerClient;
  hostId: string;
  httpFunctionNames: readonly string[];
  given?: GivenKeys;
}): Promise<HostKeys> {
  const { secrets, given = {} } = options;
  const site = options.hostId.toLowerCase();
  await secrets.createIfNotExists();
  const hostBlob = secrets.getBlockBlobClient(`${site}/host.json`);
  const stored = await readJson<{ masterKey?: StoredKey; functionKeys?: StoredKey[]; systemKeys?: StoredKey[] }>(
    hostBlob,
  );
  const named = (list: StoredKey[] | undefined) => Object.fromEntries((list ?? []).map((k) => [k.name, k.value]));
  const keys: HostKeys = {
    master: given.master ?? stored?.masterKey?.value ?? generateKey(),
    host: { ...named(stored?.functionKeys), ...given.host },
    system: { ...named(stored?.systemKeys), ...given.system },
    functions: {},
  };
  keys.host['default'] ??= generateKey();
  keys.system[BLOBS_EXTENSION_KEY] ??= generateKey();
  await writeJson(hostBlob, {
    masterKey: storedKey('master', keys.master),
    functionKeys: Object.entries(keys.host).map(([name, value]) => storedKey(name, value)),
    systemKeys: Object.entries(keys.system).map(([name, value]) => storedKey(name, value)),
    ...SECRETS_FOOTER,
  });
  for (const name of options.httpFunctionNames) {
    const blob = secrets.getBlockBlobClient(`${site}/${name.toLowerCase()}.json`);
    const own = { ...named((await readJson<{ keys?: StoredKey[] }>(blob))?.keys), ...given.functions?.[name] };
    own['default'] ??= generateKey();
    keys.functions[name] = own;
    await writeJson(blob, {
      keys: Object.entries(own).map(([key, value]) => storedKey(key, value)),
      ...SECRETS_FOOTER,
    });
  }
  return keys;
}

const SECRETS_FOOTER = { hostName: 'localhost', instanceId: '', source: 'runtime', decryptionKeyId: '' };

function storedKey(name: string, value: string): StoredKey {
  return { name, value, encrypted: false };
}

async function readJson<T>(blob: ReturnType<ContainerClient['getBlockBlobClient']>): Promise<T | undefined> {
  if (!(await blob.exists())) return undefined;
  try {
    return JSON.parse((await blob.downloadToBuffer()).toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

async function writeJson(blob: ReturnType<ContainerClient['getBlockBlobClient']>, value: unknown): Promise<void> {
  const text = JSON.stringify(value, null, 2);
  await blob.upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'application/json' } });
}
