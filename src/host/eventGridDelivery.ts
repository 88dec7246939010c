// Event Grid's webhook wire format, as the Functions host's blob extension receives it at
// /runtime/webhooks/blobs?functionName=Host.Functions.<name>: the subscription validation handshake (Event Grid
// schema: an `aeg-event-type: SubscriptionValidation` POST whose answer echoes the validation code; CloudEvents: an
// OPTIONS request whose answer allows the WebHook-Request-Origin), and notifications of BlobCreated events in the
// Event Grid schema (a JSON array) or the CloudEvents 1.0 schema (one event, or a batch). Delivery is at least once
// and unordered: the caller must take duplicates and any order.
import { BlobClient } from '@azure/storage-blob';

/** A blob that an event says was created. */
export interface CreatedBlob {
  /** The event's place in the delivery (0-based), for the messages about it. */
  index: number;
  /** The storage account the event's topic (and data.url) names: the host must be on the same one. */
  account: string;
  container: string;
  blobName: string;
  /** '' when the event carries none (not one Event Grid sends): the blob there now is taken. */
  etag: string;
  blobType: string;
}

/** An event of a notification that is not one Event Grid sends: refused on its own, the others still delivered. */
export interface RejectedEvent {
  index: number;
  message: string;
}

export type EventGridDelivery =
  | { kind: 'validation'; validationCode: string }
  | { kind: 'cloudevents-validation'; origin: string }
  | { kind: 'notification'; blobs: CreatedBlob[]; ignoredEvents: number; rejected: RejectedEvent[] };

/**
 * The delivery as a whole is not one Event Grid sends; the message says what is wrong, and the webhook answers
 * `status` (400, or 413 past the batch limits). Event Grid retries neither: it dead-letters or drops the batch.
 */
export class EventGridDeliveryError extends Error {
  override name = 'EventGridDeliveryError';
  constructor(
    message: string,
    readonly status: 400 | 413 = 400,
  ) {
    super(message);
  }
}

/**
 * Event Grid's own limits for a batched delivery (maxEventsPerBatch at most 5,000, preferredBatchSizeInKilobytes at
 * most 1,024): anything larger did not come from Event Grid, and would cost the host more than one delivery may.
 */
export const MAX_EVENTS_PER_DELIVERY = 5000;
export const MAX_DELIVERY_BYTES = 1024 * 1024;
/** Azure Storage's limits on a blob name: 1,024 characters, 254 path segments. */
const MAX_BLOB_NAME_CHARACTERS = 1024;
const MAX_BLOB_NAME_SEGMENTS = 254;

const BLOB_CREATED = 'Microsoft.Storage.BlobCreated';
const VALIDATION_EVENT = 'Microsoft.EventGrid.SubscriptionValidationEvent';
const SUBJECT_PREFIX = '/blobServices/default/containers/';
/** A container name (3-63 lower-case letters, digits and single dashes), or one of the service's own. */
const CONTAINER_NAME = /^(?:[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}|\$root|\$web|\$logs)$/;
/** A storage account's system topic: `/subscriptions/{id}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{account}`. */
const STORAGE_TOPIC =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/([a-z0-9]{3,24})$/i;

export function parseEventGridDelivery(
  method: string,
  headers: Readonly<Record<string, string | undefined>>,
  body: Buffer,
): EventGridDelivery {
  if (method === 'OPTIONS') {
    const origin = headers['webhook-request-origin'];
    if (!origin)
      throw new EventGridDeliveryError(
        'an OPTIONS request must carry WebHook-Request-Origin (CloudEvents abuse protection)',
      );
    return { kind: 'cloudevents-validation', origin };
  }
  if (method !== 'POST')
    throw new EventGridDeliveryError(`Event Grid delivers with POST (or OPTIONS to validate), not ${method}`);
  if (body.length > MAX_DELIVERY_BYTES) {
    throw new EventGridDeliveryError(
      `the delivery is ${body.length} bytes, over Event Grid's batch limit of ${MAX_DELIVERY_BYTES} bytes`,
      413,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new EventGridDeliveryError('the body is not JSON');
  }
  const contentType = (headers['content-type'] ?? '').toLowerCase();
  const events: unknown[] = Array.isArray(json)
    ? json
    : contentType.startsWith('application/cloudevents+json')
      ? [json]
      : [];
  if (events.length === 0) {
    throw new EventGridDeliveryError(
      'the body must be a JSON array of events (Event Grid schema, or a CloudEvents batch) or one CloudEvent (application/cloudevents+json)',
    );
  }
  if (events.length > MAX_EVENTS_PER_DELIVERY) {
    throw new EventGridDeliveryError(
      `the delivery holds ${events.length} events, over Event Grid's batch limit of ${MAX_EVENTS_PER_DELIVERY}`,
      413,
    );
  }
  const eventType = headers['aeg-event-type'];
  if (eventType === 'SubscriptionValidation') {
    const first = events[0] as { eventType?: unknown; data?: { validationCode?: unknown } } | null;
    if (first?.eventType !== VALIDATION_EVENT || typeof first.data?.validationCode !== 'string') {
      throw new EventGridDeliveryError(
        `a SubscriptionValidation delivery must hold a ${VALIDATION_EVENT} with data.validationCode`,
      );
    }
    return { kind: 'validation', validationCode: first.data.validationCode };
  }
  if (eventType !== undefined && eventType !== 'Notification') {
    throw new EventGridDeliveryError(
      `aeg-event-type must be Notification or SubscriptionValidation, not "${eventType}"`,
    );
  }
  const blobs: CreatedBlob[] = [];
  const rejected: RejectedEvent[] = [];
  let ignoredEvents = 0;
  events.forEach((event, index) => {
    try {
      const blob = createdBlobOf(event, index);
      if (blob) blobs.push(blob);
      else ignoredEvents++;
    } catch (error) {
      if (!(error instanceof EventGridDeliveryError)) throw error;
      rejected.push({ index, message: error.message });
    }
  });
  return { kind: 'notification', blobs, ignoredEvents, rejected };
}

/** The blob a BlobCreated event (either schema) is about; undefined for other event types. */
function createdBlobOf(event: unknown, index: number): CreatedBlob | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event))
    throw new EventGridDeliveryError(`event ${index} is not an object`);
  const fields = event as Record<string, unknown>;
  // Event Grid schema: eventType and topic; CloudEvents: specversion, type and source.
  const cloudEvent = fields['specversion'] !== undefined;
  const type = cloudEvent ? fields['type'] : fields['eventType'];
  if (typeof type !== 'string')
    throw new EventGridDeliveryError(`event ${index} has no event type (eventType, or type with specversion)`);
  if (type !== BLOB_CREATED) return undefined;
  const { container, blobName } = parseBlobSubject(fields['subject'], index);
  const topicField = cloudEvent ? 'source' : 'topic';
  const topic = fields[topicField];
  const account = typeof topic === 'string' ? STORAGE_TOPIC.exec(topic)?.[1]?.toLowerCase() : undefined;
  if (!account) {
    throw new EventGridDeliveryError(
      `event ${index}: ${topicField} must be a storage account's topic, /subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{account}, not ${describe(topic)}`,
    );
  }
  const data = (typeof fields['data'] === 'object' && fields['data'] !== null ? fields['data'] : {}) as Record<
    string,
    unknown
  >;
  assertUrlAgrees(data['url'], { index, account, container, blobName });
  const etag = typeof data['eTag'] === 'string' ? data['eTag'] : '';
  const blobType =
    data['blobType'] === 'AppendBlob' || data['blobType'] === 'PageBlob' ? data['blobType'] : 'BlockBlob';
  return { index, account, container, blobName, etag, blobType };
}

/**
 * `/blobServices/default/containers/{container}/blobs/{name}`, taken segment by segment: a `.` or `..` segment (which
 * a client's URL normalisation resolves, reaching another blob or container), an empty first or last segment, or a
 * name past Azure's limits is no blob Event Grid reports.
 */
export function parseBlobSubject(subject: unknown, index: number): { container: string; blobName: string } {
  const refuse = (why: string): never => {
    throw new EventGridDeliveryError(
      `event ${index}: a BlobCreated subject must be /blobServices/default/containers/{container}/blobs/{name}${why}, not ${describe(subject)}`,
    );
  };
  if (typeof subject !== 'string' || !subject.startsWith(SUBJECT_PREFIX)) return refuse('');
  const rest = subject.slice(SUBJECT_PREFIX.length);
  const slash = rest.indexOf('/');
  const container = slash < 0 ? rest : rest.slice(0, slash);
  if (slash < 0 || !rest.startsWith('blobs/', slash + 1)) return refuse('');
  if (!CONTAINER_NAME.test(container))
    return refuse(' with a container name (3-63 lower-case letters, digits, dashes)');
  const blobName = rest.slice(slash + 1 + 'blobs/'.length);
  if (blobName.length === 0 || blobName.length > MAX_BLOB_NAME_CHARACTERS)
    return refuse(` with a name of 1-${MAX_BLOB_NAME_CHARACTERS} characters`);
  const segments = blobName.split('/');
  if (segments.length > MAX_BLOB_NAME_SEGMENTS) return refuse(` with at most ${MAX_BLOB_NAME_SEGMENTS} name segments`);
  if (segments.some((segment) => segment === '.' || segment === '..'))
    return refuse(' with no "." or ".." segment in the name');
  // A leading or trailing slash would make the URL name something else (or a folder); one inside is kept as it is.
  if (segments[0] === '' || segments[segments.length - 1] === '')
    return refuse(' with a name that neither starts nor ends with "/"');
  return { container, blobName };
}

/** data.url, read as the storage SDK reads a blob URL, must name the same account, container and blob. */
function assertUrlAgrees(
  url: unknown,
  expected: { index: number; account: string; container: string; blobName: string },
): void {
  let named: { account: string; container: string; blobName: string } | undefined;
  if (typeof url === 'string') {
    try {
      const client = new BlobClient(url);
      named = { account: client.accountName.toLowerCase(), container: client.containerName, blobName: client.name };
    } catch {
      named = undefined;
    }
  }
  if (
    !named ||
    named.account !== expected.account ||
    named.container !== expected.container ||
    named.blobName !== expected.blobName
  ) {
    throw new EventGridDeliveryError(
      `event ${expected.index}: data.url must be the URL of the blob the subject and topic name (account ${expected.account}, container ${expected.container}, blob ${describe(expected.blobName)}), not ${describe(url)}`,
    );
  }
}

/** A field's value for a message, cut short: a subject can be 100 KB. */
function describe(value: unknown): string {
  const text = value === undefined ? 'undefined' : JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}... (${text.length} characters)` : text;
}
