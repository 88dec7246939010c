// Queue message bodies as the Functions host reads them: host.json's extensions.queues.messageEncoding says whether
// a body is base64 (the default) or plain text. The app's senders and the local host's queue trigger agree here.
import { appHostConfig, type HostConfig } from './hostConfig';

export type MessageEncoding = HostConfig['queues']['messageEncoding'];

/** The body of a queue message carrying `value` as JSON, encoded as the app's host.json says its triggers read it. */
export function encodeQueueMessage(
  value: unknown,
  encoding: MessageEncoding = appHostConfig().queues.messageEncoding,
): string {
  const json = JSON.stringify(value);
  return encoding === 'base64' ? Buffer.from(json).toString('base64') : json;
}

/** The text of a received message body; with base64, one that is not base64 fails (and ends as poison), as on Azure. */
export function decodeQueueMessage(body: string, encoding: MessageEncoding): string {
  return encoding === 'base64' ? decodeBase64Strict(body) : body;
}

/** As the Functions host does with messageEncoding base64: a message that is not base64 fails. */
export function decodeBase64Strict(text: string): string {
  const normalized = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(normalized) || normalized.length % 4 !== 0) {
    throw new Error('the message is not valid base64 (host.json extensions.queues.messageEncoding is "base64")');
  }
  return Buffer.from(normalized, 'base64').toString('utf8');
}
