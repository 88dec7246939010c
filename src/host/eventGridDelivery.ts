// Event Grid's webhook wire format, as the Functions host's blob extension receives it at
// /runtime/webhooks/blobs?functionName=Host.Functions.<name>: the subscription validation handshake (Event Grid
// schema: an `aeg-event-type: SubscriptionValidation` POST whose answer echoes the validation code; CloudEvents: an
// OPTIONS request whose answer allows the WebHook-Request-Origin), and notifications of BlobCreated events in the
// Event Grid schema (a JSON array) or the CloudEvents 1.0 schema (one event, or a batch). Delivery is at least once
// and unordered: the caller must take duplicates and any order.

/** A blob that an event says was created. */
export interface CreatedBlob {
  container: string;
  blobName: string;
  etag: string;
  blobType: string;
}

export type EventGridDelivery =
  | { kind: 'validation'; validationCode: string }
  | { kind: 'cloudevents-validation'; origin: string }
  | { kind: 'notification'; blobs: CreatedBlob[]; ignoredEvents: number };

/** The delivery is not one Event Grid sends; the message says what is wrong (the webhook answers 400). */
export class EventGridDeliveryError extends Error {
  override name = 'EventGridDeliveryError';
}

const BLOB_CREATED = 'Microsoft.Storage.BlobCreated';
const VALIDATION_EVENT = 'Microsoft.EventGrid.SubscriptionValidationEvent';
/** `/blobServices/default/containers/{container}/blobs/{name}`: the subject of every blob event. */
const BLOB_SUBJECT = /^\/blobServices\/default\/containers\/([^/]+)\/blobs\/(.+)$/s;

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
  const eventType = headers['aeg-event-type'];
  if (eventType === 'SubscriptionValidation') {
    const first = events[0] as { eventType?: unknown; data?: { validationCode?: unknown } };
    if (first.eventType !== VALIDATION_EVENT || typeof first.data?.validationCode !== 'string') {
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
  let ignoredEvents = 0;
  events.forEach((event, i) => {
    const blob = createdBlobOf(event, i);
    if (blob) blobs.push(blob);
    else ignoredEvents++;
  });
  return { kind: 'notification', blobs, ignoredEvents };
}

/** The blob a BlobCreated event (either schema) is about; undefined for other event types. */
function createdBlobOf(event: unknown, index: number): CreatedBlob | undefined {
  if (typeof event !== 'object' || event === null) throw new EventGridDeliveryError(`event ${index} is not an object`);
  const fields = event as Record<string, unknown>;
  // Event Grid schema: eventType; CloudEvents: specversion and type.
  const type = fields['specversion'] !== undefined ? fields['type'] : fields['eventType'];
  if (typeof type !== 'string')
    throw new EventGridDeliveryError(`event ${index} has no event type (eventType, or type with specversion)`);
  if (type !== BLOB_CREATED) return undefined;
  const subject = fields['subject'];
  const match = typeof subject === 'string' ? BLOB_SUBJECT.exec(subject) : null;
  if (!match) {
    throw new EventGridDeliveryError(
      `event ${index}: a BlobCreated subject must be /blobServices/default/containers/{container}/blobs/{name}, not ${JSON.stringify(subject)}`,
    );
  }
  const data = (typeof fields['data'] === 'object' && fields['data'] !== null ? fields['data'] : {}) as Record<
    string,
    unknown
  >;
  const etag = typeof data['eTag'] === 'string' ? data['eTag'] : '';
  const blobType =
    data['blobType'] === 'AppendBlob' || data['blobType'] === 'PageBlob' ? data['blobType'] : 'BlockBlob';
  return { container: match[1]!, blobName: match[2]!, etag, blobType };
}
