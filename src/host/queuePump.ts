// Pulls messages from one storage queue and hands them to a handler with the Functions host's retry rules:
// a failed message becomes visible again after `visibilityTimeoutInMs`, and after `maxDequeueCount`
// failed tries it goes to the poison handler instead.
import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';

import { messageOf } from '../errors';
import { describeValue } from '../util/describeValue';

export interface QueuePumpOptions {
  batchSize: number;
  newBatchThreshold: number;
  maxPollingIntervalInMs: number;
  /** Delay before a failed message is tried again. */
  visibilityTimeoutInMs: number;
  maxDequeueCount: number;
  /** How long a received message stays invisible while its handler runs. */
  leaseInMs: number;
}

export type MessageHandler = (message: DequeuedMessageItem) => Promise<void>;

const MIN_POLLING_INTERVAL_MS = 100;
/** How long a message stays invisible while handled (renewed as it runs): a killed host's work returns this soon. */
export const MESSAGE_LEASE_MS = 15_000;

export class QueuePump {
  #running = false;
  #inFlight = new Set<Promise<void>>();
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(
    readonly queue: QueueClient,
    private readonly options: QueuePumpOptions,
    private readonly handle: MessageHandler,
    private readonly poison: MessageHandler,
    private readonly onError: (message: string) => void,
  ) {}

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops polling and waits for the messages in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
  }

  async #run(): Promise<void> {
    let delay = MIN_POLLING_INTERVAL_MS;
    while (this.#running) {
      let received = 0;
      if (this.#inFlight.size <= this.options.newBatchThreshold) {
        try {
          const response = await this.queue.receiveMessages({
            numberOfMessages: this.options.batchSize,
            visibilityTimeout: Math.ceil(this.options.leaseInMs / 1000),
          });
          received = response.receivedMessageItems.length;
          for (const message of response.receivedMessageItems) this.#dispatch(message);
        } catch (error) {
          if (this.#running) this.onError(`queue ${this.queue.name}: receive failed: ${messageOf(error)}`);
        }
      }
      delay = received > 0 ? MIN_POLLING_INTERVAL_MS : Math.min(delay * 2, this.options.maxPollingIntervalInMs);
      if (received === 0 || this.#inFlight.size > this.options.newBatchThreshold) await this.#sleep(delay);
    }
  }

  #dispatch(message: DequeuedMessageItem): void {
    const task = this.#process(message).finally(() => {
      this.#inFlight.delete(task);
      this.#wake?.();
    });
    this.#inFlight.add(task);
  }

  async #process(received: DequeuedMessageItem): Promise<void> {
    const message = { ...received };
    try {
      let failure: unknown;
      if (message.dequeueCount <= this.options.maxDequeueCount) {
        failure = await this.#runWithLease(message);
        if (failure === undefined) {
          await this.queue.deleteMessage(message.messageId, message.popReceipt);
          return;
        }
        this.onError(
          `queue ${this.queue.name}: message ${message.messageId} failed (try ${message.dequeueCount} of ${this.options.maxDequeueCount}): ${failureMessage(failure)}`,
        );
        if (message.dequeueCount < this.options.maxDequeueCount) {
          await this.queue.updateMessage(
            message.messageId,
            message.popReceipt,
            undefined,
            Math.ceil(this.options.visibilityTimeoutInMs / 1000),
          );
          return;
        }
      }
      // Failed its last allowed try, or arrived already past it (a host died while handling it).
      await this.poison(message);
      await this.queue.deleteMessage(message.messageId, message.popReceipt);
    } catch (error) {
      // The message stays in the queue and comes back after its lease: nothing is lost.
      this.onError(
        `queue ${this.queue.name}: bookkeeping for message ${message.messageId} failed: ${messageOf(error)}`,
      );
    }
  }

  /**
   * Runs the handler while renewing the message's lease; returns what it threw, or undefined. The lease is
   * short so that a killed host's messages come back soon; renewals change the pop receipt, kept in `message`.
   */
  async #runWithLease(message: DequeuedMessageItem): Promise<unknown> {
    let renewing: Promise<void> = Promise.resolve();
    const renewal = setInterval(() => {
      renewing = this.queue
        .updateMessage(message.messageId, message.popReceipt, undefined, Math.ceil(this.options.leaseInMs / 1000))
        .then((response) => {
          if (response.popReceipt) message.popReceipt = response.popReceipt;
        })
        .catch((error: unknown) =>
          this.onError(`queue ${this.queue.name}: lease renewal for ${message.messageId} failed: ${messageOf(error)}`),
        );
    }, this.options.leaseInMs / 3);
    try {
      await this.handle(message);
      return undefined;
    } catch (error) {
      return error ?? new Error('handler failed without an error');
    } finally {
      clearInterval(renewal);
      await renewing;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}

/** A handler's failure in a message: its `message` when it has one, else the thrown value itself. */
function failureMessage(failure: unknown): string {
  return describeValue((failure as { message?: unknown }).message ?? failure);
}
