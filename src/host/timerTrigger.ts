// Timer triggers on NCRONTAB schedules, with runOnStartup and a past-due flag when the host was down
// at a scheduled time (the schedule status lives in the hosts container, as with useMonitor on Azure).
import type { ContainerClient } from '@azure/storage-blob';

import { messageOf } from '../errors';
import { parseSchedule, type Schedule } from '../platform/ncrontab';
import type { FunctionsCore, RegisteredFunction } from './functionsCore';
import { type InvocationLog, invokeFunction } from './invoke';

interface ScheduleStatus {
  Last: string;
  Next: string;
  LastUpdated: string;
}

export interface TimerTriggerOptions {
  hostId: string;
  hosts: ContainerClient;
  timeZone?: string;
  resolveSetting(value: string): string;
  log: InvocationLog;
  onError(message: string): void;
  now?: () => Date;
}

interface Timer {
  fn: RegisteredFunction;
  schedule: Schedule;
  runOnStartup: boolean;
  handle?: NodeJS.Timeout;
}

/** setTimeout cannot wait longer than about 24.8 days. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class TimerTriggerListener {
  readonly #timers: Timer[];
  #stopped = false;
  readonly #running = new Set<Promise<void>>();

  constructor(
    private readonly core: FunctionsCore,
    functions: RegisteredFunction[],
    private readonly options: TimerTriggerOptions,
  ) {
    this.#timers = functions.flatMap((fn) => {
      const binding = Object.values(fn.metadata.bindings).find((b) => b.type === 'timerTrigger');
      if (!binding) return [];
      const expression = options.resolveSetting(String(binding['schedule']));
      const schedule = parseSchedule(expression, options.timeZone ? { timeZone: options.timeZone } : {});
      return [{ fn, schedule, runOnStartup: binding['runOnStartup'] === true }];
    });
  }

  async start(): Promise<void> {
    if (this.#timers.length === 0) return;
    await this.options.hosts.createIfNotExists();
    for (const timer of this.#timers) {
      const status = await this.#readStatus(timer);
      const now = this.#now();
      const pastDue = status !== undefined && new Date(status.Next) < now;
      if (timer.runOnStartup || pastDue) {
        this.#fire(timer, pastDue, status);
      } else {
        // Record the next occurrence now, so that a host that is down at that time finds it past due.
        if (!status)
          await this.#writeStatus(timer, {
            Last: now.toISOString(),
            Next: timer.schedule.next(now).toISOString(),
            LastUpdated: now.toISOString(),
          });
        this.#arm(timer);
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer.handle);
    await Promise.allSettled([...this.#running]);
  }

  #arm(timer: Timer): void {
    if (this.#stopped) return;
    const now = this.#now();
    const next = timer.schedule.next(now);
    const wait = next.getTime() - now.getTime();
    timer.handle = setTimeout(
      () => {
        if (this.#now() < next) {
          this.#arm(timer);
          return;
        }
        void this.#readStatus(timer).then((status) => this.#fire(timer, false, status));
      },
      Math.min(wait, MAX_TIMEOUT_MS),
    );
  }

  #fire(timer: Timer, isPastDue: boolean, previous: ScheduleStatus | undefined): void {
    const now = this.#now();
    const status: ScheduleStatus = {
      Last: previous?.Next && !isPastDue ? previous.Next : now.toISOString(),
      Next: timer.schedule.next(now).toISOString(),
      LastUpdated: now.toISOString(),
    };
    const run = (async () => {
      try {
        await invokeFunction(
          this.core,
          timer.fn,
          {
            trigger: {
              json: JSON.stringify({
                Schedule: { AdjustForDST: true },
                ScheduleStatus: previous ?? null,
                IsPastDue: isPastDue,
              }),
            },
          },
          this.options.log,
        );
      } catch (error) {
        this.options.onError(`timer ${timer.fn.metadata.name} failed: ${messageOf(error)}`);
      }
      try {
        await this.#writeStatus(timer, status);
      } catch (error) {
        this.options.onError(`timer ${timer.fn.metadata.name}: schedule status not saved: ${messageOf(error)}`);
      }
    })();
    this.#running.add(run);
    void run.finally(() => {
      this.#running.delete(run);
      this.#arm(timer);
    });
  }

  #statusBlob(timer: Timer) {
    return this.options.hosts.getBlockBlobClient(`timers/${this.options.hostId}/${timer.fn.metadata.name}/status`);
  }

  async #readStatus(timer: Timer): Promise<ScheduleStatus | undefined> {
    try {
      return JSON.parse((await this.#statusBlob(timer).downloadToBuffer()).toString('utf8')) as ScheduleStatus;
    } catch {
      return undefined;
    }
  }

  async #writeStatus(timer: Timer, status: ScheduleStatus): Promise<void> {
    const body = JSON.stringify(status);
    await this.#statusBlob(timer).upload(body, Buffer.byteLength(body));
  }

  #now(): Date {
    return this.options.now ? this.options.now() : new Date();
  }
}
