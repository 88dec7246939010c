// Blob triggers as the Functions host runs them: a scan finds new or changed blobs, a receipt per blob
// version (ETag) records that it was handed over, a message on the host's blob-trigger queue carries the
// work, failures are retried, and after `maxDequeueCount` failures the blob goes to
// `webjobs-blobtrigger-poison`. A host killed half way finishes on restart: receipts not marked complete
// are handed over again, and messages left in the queue come back.
import { type BlobItem, type BlobServiceClient, ContainerClient, RestError } from '@azure/storage-blob';
import type { DequeuedMessageItem, QueueClient, QueueServiceClient } from '@azure/storage-queue';

import { ensureError, messageOf } from '../errors';
import { resolveListedBlobName } from '../storage/listedBlobName';
import type { CreatedBlob } from './eventGridDelivery';
import type { FunctionsCore, RegisteredFunction, RpcTypedData } from './functionsCore';
import { type InvocationLog, invokeFunction } from './invoke';
import { MESSAGE_LEASE_MS, QueuePump, type QueuePumpOptions } from './queuePump';

export const HOSTS_CONTAINER = 'azure-webjobs-hosts';
export const BLOB_POISON_QUEUE = 'webjobs-blobtrigger-poison';
const SCAN_PARALLELISM = 16;
/**
 * When a listing fails (Azurite answers 500 for a page holding a name with a control character), the scan lists
 * folder by folder, and under a folder that still fails, by these next characters, up to MAX_NARROWING of them: so
 * one name holds back only the names that share its prefix, and the range left out is reported.
 */
const NARROWING_CHARACTERS = [
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~ ()!'+,;=@&$%[]{}#^`",
];
const MAX_NARROWING = 3;

/** The message the host's blob-trigger queue carries (the Functions host's field names). */
interface BlobTriggerMessage {
  Type: 'BlobTrigger';
  FunctionId: string;
  BlobType: string;
  ContainerName: string;
  BlobName: string;
  ETag: string;
}

export interface BlobPathPattern {
  container: string;
  /** Matches a blob name inside the container and captures the path parameters. */
  match(blobName: string): Record<string, string> | undefined;
}

/** `incoming/{dataset}/{label}/{name}`: parameters match one path segment, except the last, which takes the rest. */
export function compileBlobPath(path: string): BlobPathPattern {
  const slash = path.indexOf('/');
  const container = slash < 0 ? path : path.slice(0, slash);
  const rest = slash < 0 ? '' : path.slice(slash + 1);
  const names: string[] = [];
  const tokens = rest.split(/(\{[A-Za-z_][A-Za-z0-9_]*\})/).filter((t) => t.length > 0);
  const source = tokens
    .map((token, i) => {
      const param = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(token);
      if (!param) return token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(param[1]!);
      return i === tokens.length - 1 ? '(.+)' : '([^/]+)';
    })
    .join('');
  // dotAll: blob names may hold line terminators (\n, \r, U+2028, U+2029), and such a blob must still trigger.
  const regex = new RegExp(`^${source}${rest === '' ? '.*' : ''}$`, 's');
  return {
    container,
    match(blobName) {
      const m = regex.exec(blobName);
      if (!m) return undefined;
      return Object.fromEntries(names.map((name, i) => [name, m[i + 1]!]));
    },
  };
}

interface Watch {
  fn: RegisteredFunction;
  /** 'EventGrid': the blob extension's webhook delivers its blobs (Flex Consumption's only source); no scan. */
  source: 'LogsAndContainerScan' | 'EventGrid';
  pattern: BlobPathPattern;
  container: ContainerClient;
  /** The app setting naming the trigger's storage connection (what an SDK-type binding tells the worker). */
  connection: string;
  /**
   * `sdkBinding: true` (the binding's supportsDeferredBinding): the function gets where the blob is, not its bytes,
   * and the host reads none of it, as the Functions host does.
   */
  deferred: boolean;
  /** The same container for listing only, without the SDK's retries: a failed page is narrowed at once. */
  listing: ContainerClient;
  blobs: BlobServiceClient;
  /** blob name → ETag already handed over (or found complete) by this process. */
  seen: Map<string, string>;
}

export interface BlobTriggerOptions {
  hostId: string;
  scanIntervalInMs: number;
  queue: Omit<QueuePumpOptions, 'leaseInMs'> & { leaseInMs?: number };
  clientsFor(connectionSetting: string): { blobs: BlobServiceClient; queues: QueueServiceClient };
  resolveSetting(value: string): string;
  log: InvocationLog;
  onError(message: string): void;
}

export class BlobTriggerListener {
  readonly #watches: Watch[];
  readonly #hosts: ContainerClient;
  readonly #queue: QueueClient;
  readonly #poisonQueue: QueueClient;
  readonly #pump: QueuePump;
  #scanTimer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  #stopped = false;
  /** Event Grid hand-overs in flight, by function, blob name and ETag. */
  readonly #deliveries = new Map<string, Promise<void>>();
  /** Consecutive scans in which some listing failed (the backoff of the next one). */
  #failedScans = 0;
  /** The name ranges the last scan could not list, as reported. */
  #reportedUnlistable = new Set<string>();

  constructor(
    private readonly core: FunctionsCore,
    functions: RegisteredFunction[],
    private readonly options: BlobTriggerOptions,
  ) {
    const storage = options.clientsFor('AzureWebJobsStorage');
    this.#hosts = storage.blobs.getContainerClient(HOSTS_CONTAINER);
    this.#queue = storage.queues.getQueueClient(`azure-webjobs-blobtrigger-${options.hostId}`);
    this.#poisonQueue = storage.queues.getQueueClient(BLOB_POISON_QUEUE);
    this.#watches = functions.flatMap((fn) => {
      const binding = Object.values(fn.metadata.bindings).find((b) => b.type === 'blobTrigger');
      if (!binding) return [];
      const pattern = compileBlobPath(options.resolveSetting(String(binding['path'])));
      const connection =
        typeof binding['connection'] === 'string' && binding['connection']
          ? binding['connection']
          : 'AzureWebJobsStorage';
      const { blobs } = options.clientsFor(connection);
      const source = binding['source'] === 'EventGrid' ? 'EventGrid' : 'LogsAndContainerScan';
      return [
        {
          fn,
          source,
          pattern,
          blobs,
          container: blobs.getContainerClient(pattern.container),
          connection,
          deferred:
            (binding['properties'] as { supportsDeferredBinding?: unknown } | undefined)?.supportsDeferredBinding ===
            'true',
          listing: listingClient(blobs.getContainerClient(pattern.container)),
          seen: new Map<string, string>(),
        },
      ];
    });
    this.#pump = new QueuePump(
      this.#queue,
      { leaseInMs: MESSAGE_LEASE_MS, ...options.queue },
      (message) => this.#execute(message),
      (message) => this.#poison(message),
      (message) => options.onError(message),
    );
  }

  /** The functions whose blobs Event Grid delivers (the webhook's). */
  get eventGridFunctionNames(): string[] {
    return this.#watches.filter((w) => w.source === 'EventGrid').map((w) => w.fn.metadata.name);
  }

  get functionNames(): string[] {
    return this.#watches.map((w) => w.fn.metadata.name);
  }

  async start(): Promise<void> {
    if (this.#watches.length === 0) return;
    await Promise.all([
      this.#hosts.createIfNotExists(),
      this.#queue.createIfNotExists(),
      this.#poisonQueue.createIfNotExists(),
      ...this.#watches.map((w) => w.container.createIfNotExists()),
    ]);
    this.#pump.start();
    await this.scanNow();
    this.#scheduleScan();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#scanTimer);
    await this.#scanning;
    await this.#pump.stop();
  }

  /** Looks for new or changed blobs now (the periodic scan also does). */
  scanNow(): Promise<void> {
    this.#scanning ??= this.#scanAll().finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  #scheduleScan(): void {
    if (this.#stopped) return;
    // A listing that keeps failing is retried with backoff (doubling, up to a minute), not hammered or given up.
    const delay = Math.min(60_000, this.options.scanIntervalInMs * 2 ** Math.min(this.#failedScans, 10));
    this.#scanTimer = setTimeout(() => {
      this.scanNow()
        .catch((error: unknown) => this.options.onError(`blob scan failed: ${describeStorageError(error)}`))
        .finally(() => this.#scheduleScan());
    }, delay);
  }

  async #scanAll(): Promise<void> {
    // Each watch on its own: one container whose listing fails must not stop the others; and within a container,
    // a name the listing cannot return holds back only the names that share its prefix (#listBlobs).
    const failures: string[] = [];
    const unlistable: string[] = [];
    for (const watch of this.#watches) {
      if (watch.source === 'EventGrid') continue;
      try {
        const left = await this.#scanWatch(watch);
        for (const range of left) {
          unlistable.push(`${watch.fn.metadata.name} (container ${watch.pattern.container}): ${range}`);
        }
      } catch (error) {
        failures.push(
          `${watch.fn.metadata.name} (container ${watch.pattern.container}): ${describeStorageError(error)}`,
        );
      }
    }
    // A range reported once is not logged again on every scan while it lasts.
    for (const range of unlistable.filter((text) => !this.#reportedUnlistable.has(text))) {
      this.options.onError(
        `blob scan of ${range}; the rest was scanned. A blob whose name holds a control character (U+0000-U+001F) ` +
          'or U+FFFE/U+FFFF can make a listing fail: find and rename or delete it',
      );
    }
    this.#reportedUnlistable = new Set(unlistable);
    if (failures.length === 0) {
      this.#failedScans = 0;
      return;
    }
    this.#failedScans++;
    for (const failure of failures) this.options.onError(`blob scan of ${failure}; retrying with backoff`);
  }

  /** Hands over what is new in a watch's container; returns the name ranges it could not list. */
  async #scanWatch(watch: Watch): Promise<string[]> {
    const pending: Promise<void>[] = [];
    const unlistable: string[] = [];
    for await (const blob of this.#listBlobs(watch.listing, unlistable)) {
      if (this.#stopped) break;
      const etag = blob.properties.etag ?? '';
      if (!watch.pattern.match(blob.name) || watch.seen.get(blob.name) === etag) continue;
      const blobName = await resolveListedBlobName(watch.container, blob.name, etag);
      pending.push(
        this.#handOver(watch, blobName, etag, blob.properties.blobType ?? 'BlockBlob').then(() => {
          watch.seen.set(blob.name, etag);
        }),
      );
      // Hand over in bounded parallel batches: a large upload is queued quickly without flooding storage.
      if (pending.length >= SCAN_PARALLELISM) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    return unlistable;
  }

  /**
   * Every blob of the container: one flat listing, and if a page of it fails, folder by folder from the top and,
   * under a folder that still fails, by narrower prefixes. A blob may come twice (the flat pages before the
   * failure, then again): the caller's ETag check makes that harmless.
   */
  async *#listBlobs(container: ContainerClient, unlistable: string[]): AsyncGenerator<BlobItem> {
    try {
      for await (const blob of container.listBlobsFlat()) yield blob;
      return;
    } catch (error) {
      if (!isListingFailure(error)) throw error;
    }
    yield* this.#listUnder(container, '', 0, unlistable);
  }

  async *#listUnder(
    container: ContainerClient,
    prefix: string,
    narrowed: number,
    unlistable: string[],
  ): AsyncGenerator<BlobItem> {
    const folders: string[] = [];
    try {
      for await (const page of container.listBlobsByHierarchy('/', { prefix }).byPage({ maxPageSize: 1000 })) {
        for (const blob of page.segment.blobItems) yield blob;
        for (const folder of page.segment.blobPrefixes ?? []) folders.push(folder.name);
      }
    } catch (error) {
      if (!isListingFailure(error)) throw error;
      if (narrowed >= MAX_NARROWING) {
        unlistable.push(`could not list the names under ${JSON.stringify(prefix)} (${describeStorageError(error)})`);
        return;
      }
      const reportedBefore = unlistable.length;
      for (const next of NARROWING_CHARACTERS) {
        yield* this.#listUnder(container, prefix + next, narrowed + 1, unlistable);
      }
      // When a narrower prefix failed, that one says where the name is; else it goes on with another character.
      if (unlistable.length === reportedBefore) {
        unlistable.push(
          `could not list the names under ${JSON.stringify(prefix)} that go on with another character than ` +
            `[A-Za-z0-9] and ${JSON.stringify(NARROWING_CHARACTERS.filter((c) => !/[A-Za-z0-9]/.test(c)).join(''))} ` +
            `(${describeStorageError(error)})`,
        );
      }
      return;
    }
    for (const folder of folders) yield* this.#listUnder(container, folder, 0, unlistable);
  }

  /**
   * Takes an Event Grid delivery for `functionName` (the webhook's `Host.Functions.<name>`): each created blob that
   * the function's path matches is handed over as a scan would, so duplicates (the same ETag again) run once and the
   * order does not matter. Answers once every blob is handed over or after `answerWithinMs`, whichever comes first
   * (Event Grid gives up on an answer after 30 s): what is left goes on after the answer. A blob that is gone, or an
   * event for a version since replaced, is logged and left: no receipt, nothing queued. Undefined: no Event Grid
   * blob trigger of that name.
   */
  async deliverCreatedBlobs(
    functionName: string,
    blobs: CreatedBlob[],
    options: { answerWithinMs?: number } = {},
  ): Promise<
    { accepted: number; skipped: number; failed: number; rejected: { index: number; message: string }[] } | undefined
  > {
    const watch = this.#watches.find((w) => w.fn.metadata.name === functionName && w.source === 'EventGrid');
    if (!watch) return undefined;
    const account = watch.container.accountName.toLowerCase();
    const rejected: { index: number; message: string }[] = [];
    const ours: CreatedBlob[] = [];
    for (const blob of blobs) {
      if (blob.account !== account) {
        rejected.push({
          index: blob.index,
          message: `event ${blob.index}: it is about storage account ${blob.account}, and ${functionName} watches account ${account}`,
        });
        continue;
      }
      if (blob.container !== watch.pattern.container || !watch.pattern.match(blob.blobName)) continue;
      // The client must reach this very blob: a name the SDK's URL would resolve elsewhere is refused, whatever
      // the parser let through.
      const client = watch.container.getBlobClient(blob.blobName);
      if (client.containerName !== watch.pattern.container || client.name !== blob.blobName) {
        rejected.push({
          index: blob.index,
          message: `event ${blob.index}: the blob name ${JSON.stringify(blob.blobName.slice(0, 200))} does not stay in container ${watch.pattern.container}`,
        });
        continue;
      }
      ours.push(blob);
    }
    const log = (message: string) => this.options.log(functionName, '', 'information', message);
    const handOverOne = async (blob: CreatedBlob): Promise<void> => {
      let current: string;
      try {
        current = (await watch.container.getBlobClient(blob.blobName).getProperties()).etag ?? '';
      } catch (error) {
        if (!(error instanceof RestError)) throw error;
        if (error.statusCode === 404) {
          log(`Event Grid: ${watch.pattern.container}/${blob.blobName} no longer exists; nothing to do`);
          return;
        }
        // A name the service refuses to look up: no retry makes it a blob.
        if (error.statusCode === 400 || error.statusCode === 414) {
          log(
            `Event Grid: ${watch.pattern.container}/${JSON.stringify(blob.blobName.slice(0, 200))} is no name storage takes (${describeStorageError(error)}); dropped`,
          );
          return;
        }
        throw error;
      }
      const unquoted = (etag: string) => etag.replace(/"/g, '');
      if (blob.etag && unquoted(blob.etag) !== unquoted(current)) {
        log(
          `Event Grid: ${watch.pattern.container}/${blob.blobName} has been replaced since ETag ${blob.etag} (now ${current}); its own event hands it over`,
        );
        return;
      }
      // An event without an ETag (not one Event Grid sends) still names a blob: take the one there now.
      const etag = blob.etag || current;
      // The same event twice at once (Event Grid retries while the first delivery is still being answered) waits
      // for the first hand-over instead of making a second.
      const key = `${functionName}\n${blob.blobName}\n${etag}`;
      let handingOver = this.#deliveries.get(key);
      if (!handingOver && watch.seen.get(blob.blobName) !== etag) {
        handingOver = this.#handOver(watch, blob.blobName, etag, blob.blobType)
          .then(() => {
            watch.seen.set(blob.blobName, etag);
          })
          .finally(() => this.#deliveries.delete(key));
        this.#deliveries.set(key, handingOver);
      }
      await handingOver;
    };
    // Bounded parallel, as a scan hands over; failures before the answer are counted (the webhook then asks Event
    // Grid to deliver again), later ones logged.
    let answered = false;
    let failed = 0;
    const waiting = [...ours];
    const worker = async () => {
      for (let blob = waiting.shift(); blob && !this.#stopped; blob = waiting.shift()) {
        try {
          await handOverOne(blob);
        } catch (error) {
          if (!answered) failed++;
          if (!this.#stopped)
            this.options.onError(
              `Event Grid: handing over ${watch.pattern.container}/${blob.blobName} for ${functionName} failed: ${describeStorageError(error)}`,
            );
        }
      }
    };
    const all = Promise.all(Array.from({ length: Math.min(SCAN_PARALLELISM, waiting.length) }, worker));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      all,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, options.answerWithinMs ?? 10_000);
      }),
    ]);
    clearTimeout(timer);
    answered = true;
    return { accepted: ours.length, skipped: blobs.length - ours.length - rejected.length, failed, rejected };
  }

  async #handOver(watch: Watch, blobName: string, etag: string, blobType: string): Promise<void> {
    const receipt = this.#receipt(watch, blobName, etag);
    try {
      const properties = await receipt.getProperties();
      if (properties.metadata?.['completed'] === 'true') return;
    } catch (error) {
      if (!(error instanceof RestError && error.statusCode === 404)) throw error;
    }
    await receipt.upload('', 0, { metadata: { completed: 'false' } });
    const message: BlobTriggerMessage = {
      Type: 'BlobTrigger',
      FunctionId: watch.fn.metadata.name,
      BlobType: blobType,
      ContainerName: watch.pattern.container,
      BlobName: blobName,
      ETag: etag,
    };
    await this.#queue.sendMessage(JSON.stringify(message));
  }

  #receipt(watch: Watch, blobName: string, etag: string) {
    const name = `blobreceipts/${this.options.hostId}/${watch.fn.metadata.name}/${etag.replace(/"/g, '')}/${watch.pattern.container}/${blobName}`;
    return this.#hosts.getBlockBlobClient(name);
  }

  async #execute(queued: DequeuedMessageItem): Promise<void> {
    const message = parseMessage(queued.messageText);
    const watch = this.#watches.find((w) => w.fn.metadata.name === message.FunctionId);
    if (!watch) throw new Error(`blob trigger message for unknown function "${message.FunctionId}"`);
    const blob = watch.container.getBlockBlobClient(message.BlobName);
    let properties: Awaited<ReturnType<typeof blob.getProperties>>;
    let trigger: RpcTypedData;
    try {
      if (watch.deferred) {
        properties = await blob.getProperties();
        trigger = {
          modelBindingData: {
            version: '1.0',
            source: 'AzureStorageBlobs',
            contentType: 'application/json',
            content: Buffer.from(
              JSON.stringify({
                Connection: watch.connection,
                ContainerName: message.ContainerName,
                BlobName: message.BlobName,
              }),
            ),
          },
        };
      } else {
        const download = await blob.download();
        properties = download;
        trigger = { bytes: await readAll(download.readableStreamBody!) };
      }
    } catch (error) {
      // Deleted since it was found: there is nothing left to process, as on Azure.
      if (error instanceof RestError && error.statusCode === 404) return;
      throw error;
    }
    const params = watch.pattern.match(message.BlobName) ?? {};
    const triggerMetadata: Record<string, RpcTypedData> = {
      BlobTrigger: { string: `${message.ContainerName}/${message.BlobName}` },
      Uri: { string: blob.url },
      Properties: {
        json: JSON.stringify({
          ETag: properties.etag,
          ContentLength: properties.contentLength,
          ContentType: properties.contentType,
          LastModified: properties.lastModified,
          CreatedOn: properties.createdOn,
          BlobType: properties.blobType,
        }),
      },
      Metadata: { json: JSON.stringify(properties.metadata ?? {}) },
      ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, { string: v }])),
    };
    await invokeFunction(this.core, watch.fn, { trigger, triggerMetadata }, this.options.log);
    await this.#receipt(watch, message.BlobName, message.ETag).upload('', 0, { metadata: { completed: 'true' } });
  }

  async #poison(queued: DequeuedMessageItem): Promise<void> {
    const message = parseMessage(queued.messageText);
    this.options.onError(
      `blob trigger: ${message.ContainerName}/${message.BlobName} failed ${this.options.queue.maxDequeueCount} times; moved to queue ${BLOB_POISON_QUEUE}`,
    );
    await this.#poisonQueue.sendMessage(queued.messageText);
    const watch = this.#watches.find((w) => w.fn.metadata.name === message.FunctionId);
    if (watch) {
      // Completed with a mark, so that the next scan does not hand it over again forever.
      await this.#receipt(watch, message.BlobName, message.ETag).upload('', 0, {
        metadata: { completed: 'true', poisoned: 'true' },
      });
    }
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

function parseMessage(text: string): BlobTriggerMessage {
  const parsed = JSON.parse(text) as Partial<BlobTriggerMessage>;
  if (parsed.Type !== 'BlobTrigger' || !parsed.FunctionId || !parsed.ContainerName || !parsed.BlobName) {
    throw new Error(`not a blob trigger message: ${text.slice(0, 200)}`);
  }
  return parsed as BlobTriggerMessage;
}

/**
 * A client of the same container that tries each request once: a listing page the service cannot answer (Azurite's
 * 500 for some names) would otherwise take the SDK's four tries and about 30 s before the scan could narrow it.
 */
function listingClient(container: ContainerClient): ContainerClient {
  return new ContainerClient(container.url, container.credential, { retryOptions: { maxTries: 1 } });
}

/** A listing the service could not answer (a 5xx, or a page it could not write): narrower listings may succeed. */
function isListingFailure(error: unknown): boolean {
  return error instanceof RestError && (error.statusCode ?? 0) >= 500;
}

/** What a storage error says, with its status and code (a service error can come with an empty message). */
function describeStorageError(error: unknown): string {
  if (error instanceof RestError) {
    const parts = [
      error.statusCode ? `HTTP ${error.statusCode}` : undefined,
      error.code,
      error.message?.split('\n')[0],
    ].filter((part) => part);
    return parts.length > 0 ? parts.join(': ') : 'a storage error with no details';
  }
  const message = messageOf(error);
  return message || `${ensureError(error).name} with no message`;
}
