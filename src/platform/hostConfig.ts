// host.json as the Functions host reads it: the parts the app and the local host honour, validated, with the
// Functions host's defaults. Platform facts live here so that production code never imports the local host.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { z } from 'zod';

import { ConfigurationError, messageOf } from '../errors';

const timeSpan = z
  .string()
  .regex(/^(\d+\.)?\d{1,2}:\d{2}:\d{2}(\.\d+)?$/, 'must be a TimeSpan such as "00:00:30"')
  .transform(parseTimeSpanInMs);

const hostJsonSchema = z.object({
  version: z.literal('2.0', { message: 'must be "2.0"' }),
  extensions: z
    .object({
      queues: z
        .object({
          maxPollingInterval: timeSpan.optional(),
          visibilityTimeout: timeSpan.optional(),
          batchSize: z.number().int().min(1).max(32).optional(),
          newBatchThreshold: z.number().int().min(0).optional(),
          maxDequeueCount: z.number().int().min(1).optional(),
          messageEncoding: z.enum(['base64', 'none']).optional(),
        })
        .optional(),
      blobs: z.object({ maxDegreeOfParallelism: z.number().int().min(1).optional() }).optional(),
      http: z
        .object({
          routePrefix: z
            .string()
            .regex(
              /^[A-Za-z0-9_-]*(\/[A-Za-z0-9_-]+)*$/,
              'must be a path such as "api" (no leading or trailing slash), or ""',
            )
            .optional(),
        })
        .optional(),
    })
    .optional(),
  functionTimeout: timeSpan.optional(),
});

export interface HostConfig {
  queues: {
    maxPollingIntervalInMs: number;
    visibilityTimeoutInMs: number;
    batchSize: number;
    newBatchThreshold: number;
    maxDequeueCount: number;
    messageEncoding: 'base64' | 'none';
  };
  blobs: { maxDegreeOfParallelism: number };
  /** What every HTTP route is served under: "api" by default, "" for routes at the root (the web page at /). */
  http: { routePrefix: string };
  functionTimeoutInMs: number;
}

export function readHostConfig(file: string): HostConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigurationError(`${file}: cannot be read as JSON: ${messageOf(error)}`);
  }
  return parseHostConfig(json, file);
}

export function parseHostConfig(json: unknown, source = 'host.json'): HostConfig {
  const parsed = hostJsonSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigurationError(`${source}: ${problems.join('; ')}`);
  }
  const queues = parsed.data.extensions?.queues ?? {};
  const batchSize = queues.batchSize ?? 16;
  return {
    queues: {
      maxPollingIntervalInMs: queues.maxPollingInterval ?? 60_000,
      visibilityTimeoutInMs: queues.visibilityTimeout ?? 0,
      batchSize,
      newBatchThreshold: queues.newBatchThreshold ?? Math.floor(batchSize / 2),
      maxDequeueCount: queues.maxDequeueCount ?? 5,
      messageEncoding: queues.messageEncoding ?? 'base64',
    },
    blobs: { maxDegreeOfParallelism: parsed.data.extensions?.blobs?.maxDegreeOfParallelism ?? 8 },
    http: { routePrefix: parsed.data.extensions?.http?.routePrefix ?? 'api' },
    functionTimeoutInMs: parsed.data.functionTimeout ?? 30 * 60_000,
  };
}

function parseTimeSpanInMs(value: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(\.\d+)?$/.exec(value);
  if (!match) return NaN;
  const [, days, hours, minutes, seconds, fraction] = match;
  return (
    ((Number(days ?? 0) * 24 + Number(hours)) * 3600 + Number(minutes) * 60 + Number(seconds) + Number(fraction ?? 0)) *
    1000
  );
}

/** The app's host.json: the nearest one in `startDir` or a folder above it (source and compiled layouts differ). */
export function findHostJson(startDir: string): string {
  for (let dir = path.resolve(startDir); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'host.json');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new ConfigurationError(`no host.json in ${startDir} or any folder above it`);
  }
}

let appConfig: HostConfig | undefined;

/**
 * The app's own host.json (the one beside package.json, found from source and compiled layouts alike), read and
 * validated once per process: functions that must agree with the host's settings read them here.
 */
export function appHostConfig(): HostConfig {
  return (appConfig ??= readHostConfig(findHostJson(__dirname)));
}
