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

/**
 * How long a notification may wait for its blobs to be handed over (receipt written, queued) before it is answered:
 * well within Event Grid's 30 s delivery timeout. What is not handed over by then goes on after the answer.
 */
const ANSWER_WITHIN_MS = 10_000;
/** The malformed events' messages an answer lists and the log shows (the rest are counted). */
const MAX_PROBLEMS_LISTED = 10;

export interface BlobWebhookOptions {
  /** Default 10 s: see ANSWER_WITHIN_MS. */
  answerWithinMs?: number;
  /** Told each malformed event that is dropped, with why. */
  onRejected?: (message: string) => void;
}

export async function handleBlobWebhook(
  blobs: BlobTriggerListener,
  url: URL,
  method: string,
  headers: Readonly<Record<string, string | undefined>>,
  body: Buffer,
  options: BlobWebhookOptions = {},
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
    if (error instanceof EventGridDeliveryError)
      return problem(error.status, error.status === 413 ? 'PayloadTooLarge' : 'BadRequest', error.message);
    throw error;
  }
  switch (delivery.kind) {
    case 'validation':
      return { status: 200, body: { validationResponse: delivery.validationCode } };
    case 'cloudevents-validation':
      return { status: 200, headers: { 'webhook-allowed-origin': delivery.origin, 'webhook-allowed-rate': '*' } };
    case 'notification': {
      const outcome = (await blobs.deliverCreatedBlobs(functionName, delivery.blobs, {
        answerWithinMs: options.answerWithinMs ?? ANSWER_WITHIN_MS,
      }))!;
      const rejected = [...delivery.rejected, ...outcome.rejected].sort((a, b) => a.index - b.index);
      for (const event of rejected.slice(0, MAX_PROBLEMS_LISTED))
        options.onRejected?.(`blob webhook (${functionName}): dropped ${event.message}`);
      if (rejected.length > MAX_PROBLEMS_LISTED)
        options.onRejected?.(
          `blob webhook (${functionName}): dropped ${rejected.length - MAX_PROBLEMS_LISTED} more malformed events`,
        );
      // Event Grid retries a whole batch on any answer but 400, 401, 403 and 413, and drops (or dead-letters) it on
      // those: so one malformed event must not fail the batch (its good events would be lost with it, or a 5xx would
      // have them all redelivered for a day). A batch with something to deliver is accepted and its malformed events
      // are logged and dropped; a batch of nothing but malformed events is a 400, which Event Grid does not retry.
      const delivered = delivery.blobs.length - outcome.rejected.length + delivery.ignoredEvents;
      const summary = {
        accepted: outcome.accepted,
        skipped: outcome.skipped,
        ignoredEvents: delivery.ignoredEvents,
        rejectedEvents: rejected.length,
        ...(rejected.length ? { problems: rejected.slice(0, MAX_PROBLEMS_LISTED).map((event) => event.message) } : {}),
      };
      // A storage failure before the answer: Event Grid delivers the batch again (receipts make that harmless).
      if (outcome.failed > 0)
        return {
          status: 503,
          headers: { 'retry-after': '10' },
          body: {
            error: 'ServiceUnavailable',
            message: `${outcome.failed} of the delivery's blobs could not be handed over (storage failed; see the host's log): deliver it again`,
            ...summary,
          },
        };
      if (delivered === 0 && rejected.length > 0)
        return {
          status: 400,
          body: {
            error: 'BadRequest',
            message: `every event of the delivery is malformed: ${summary.problems!.join('; ')}`,
            ...summary,
          },
        };
      return { status: 202, body: summary };
    }
  }
}
