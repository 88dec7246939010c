// The blob extension's webhook, /runtime/webhooks/blobs?functionName=Host.Functions.<name>, where Event Grid delivers
// BlobCreated events for blob triggers with `source: 'EventGrid'` (the Flex Consumption plan's only blob source). On
// Azure it takes the `blobs_extension` system key (or the master key): the strict local host checks it
// (httpTrigger.ts), the lax one, like `func start`, checks no keys.
import type { BlobTriggerListener } from './blobTrigger';
import { EventGridDeliveryError, parseEventGridDelivery } from './eventGridDelivery';

export const BLOB_WEBHOOK_PATH = '/runtime/webhooks/blobs';

export interface WebhookResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export async function handleBlobWebhook(
  blobs: BlobTriggerListener,
  url: URL,
  method: string,
  headers: Readonly<Record<string, string | undefined>>,
  body: Buffer,
): Promise<WebhookResponse> {
  const problem = (status: number, error: string, message: string): WebhookResponse => ({
    status,
    body: { error, message },
  });
  const target = url.searchParams.get('functionName') ?? '';
  const functionName = /^Host\.Functions\.(.+)$/.exec(target)?.[1];
  if (!functionName) {
    return problem(400, 'BadRequest', `functionName must be Host.Functions.<function name>, not "${target}"`);
  }
  const known = blobs.eventGridFunctionNames;
  if (!known.includes(functionName)) {
    return problem(
      404,
      'NotFound',
      `no blob trigger "${functionName}" with source EventGrid here (${known.length ? `there is ${known.join(', ')}` : 'there are none'})`,
    );
  }
  let delivery;
  try {
    delivery = parseEventGridDelivery(method, headers, body);
  } catch (error) {
    if (error instanceof EventGridDeliveryError) return problem(400, 'BadRequest', error.message);
    throw error;
  }
  switch (delivery.kind) {
    case 'validation':
      return { status: 200, body: { validationResponse: delivery.validationCode } };
    case 'cloudevents-validation':
      return { status: 200, headers: { 'webhook-allowed-origin': delivery.origin, 'webhook-allowed-rate': '*' } };
    case 'notification': {
      const outcome = (await blobs.deliverCreatedBlobs(functionName, delivery.blobs))!;
      return { status: 202, body: { ...outcome, ignoredEvents: delivery.ignoredEvents } };
    }
  }
}
