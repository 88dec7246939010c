// Queue triggers: one pump per function, messages decoded as host.json's messageEncoding says, and
// poison messages moved to `<queue>-poison` after maxDequeueCount failed tries.
import type { DequeuedMessageItem, QueueServiceClient } from '@azure/storage-queue';

import type { HostConfig } from '../platform/hostConfig';
import { decodeQueueMessage } from '../platform/queueMessages';
import type { FunctionsCore, RegisteredFunction } from './functionsCore';
import { type InvocationLog, invokeFunction } from './invoke';
import { MESSAGE_LEASE_MS, QueuePump } from './queuePump';

export interface QueueTriggerOptions {
  config: HostConfig['queues'];
  clientsFor(connectionSetting: string): { queues: QueueServiceClient };
  resolveSetting(value: string): string;
  log: InvocationLog;
  onError(message: string): void;
}

export class QueueTriggerListener {
  readonly #pumps: { pump: QueuePump; poisonName: string; queues: QueueServiceClient }[];

  constructor(
    private readonly core: FunctionsCore,
    functions: RegisteredFunction[],
    private readonly options: QueueTriggerOptions,
  ) {
    this.#pumps = functions.flatMap((fn) => {
      const binding = Object.values(fn.metadata.bindings).find((b) => b.type === 'queueTrigger');
      if (!binding) return [];
      const queueName = options.resolveSetting(String(binding['queueName'])).toLowerCase();
      const connection =
        typeof binding['connection'] === 'string' && binding['connection']
          ? binding['connection']
          : 'AzureWebJobsStorage';
      const { queues } = options.clientsFor(connection);
      const queue = queues.getQueueClient(queueName);
      const poison = queues.getQueueClient(`${queueName}-poison`);
      const pump = new QueuePump(
        queue,
        { ...options.config, leaseInMs: MESSAGE_LEASE_MS },
        (message) => this.#execute(fn, message),
        async (message) => {
          options.onError(
            `queue ${queueName}: message ${message.messageId} moved to ${queueName}-poison after ${message.dequeueCount} tries`,
          );
          await poison.createIfNotExists();
          await poison.sendMessage(message.messageText);
        },
        (message) => options.onError(message),
      );
      return [{ pump, poisonName: `${queueName}-poison`, queues }];
    });
  }

  async start(): Promise<void> {
    await Promise.all(this.#pumps.map(({ pump }) => pump.queue.createIfNotExists()));
    for (const { pump } of this.#pumps) pump.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.#pumps.map(({ pump }) => pump.stop()));
  }

  async #execute(fn: RegisteredFunction, message: DequeuedMessageItem): Promise<void> {
    const text = decodeQueueMessage(message.messageText, this.options.config.messageEncoding);
    await invokeFunction(
      this.core,
      fn,
      {
        trigger: { string: text },
        triggerMetadata: {
          QueueTrigger: { string: text },
          Id: { string: message.messageId },
          DequeueCount: { int: message.dequeueCount },
          InsertionTime: { string: message.insertedOn.toISOString() },
          ExpirationTime: { string: message.expiresOn.toISOString() },
          NextVisibleTime: { string: message.nextVisibleOn.toISOString() },
          PopReceipt: { string: message.popReceipt },
        },
      },
      this.options.log,
    );
  }
}
