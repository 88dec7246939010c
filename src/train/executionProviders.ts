// Opening a session on ONNX Runtime's execution providers: resolveProviders() tries the requested ones in order with
// the CPU as the fallback (their names are a leaf below configuration: platform/executionProviderNames.ts).
// onnxruntime-node throws when a listed provider cannot load (a missing CUDA build or driver only shows when a
// session is created) instead of falling back, so the first one is dropped and the rest tried, each drop logged.
import type * as ort from 'onnxruntime-node';

import { messageOf, ProgrammingError } from '../errors';
import {
  EXECUTION_PROVIDER_NAMES,
  type ExecutionProviderName,
  isExecutionProviderName,
} from '../platform/executionProviderNames';

export interface ResolveProvidersOptions {
  /** What the session runs, for the warnings: "the backbone", "the head". */
  purpose: string;
  log: (message: string) => void;
  /** Session options besides the providers. */
  sessionOptions?: Omit<ort.InferenceSession.SessionOptions, 'executionProviders'>;
}

export interface ResolvedSession {
  session: ort.InferenceSession;
  /** The providers the session was created with: the requested ones less those that could not load, CPU last. */
  providers: ExecutionProviderName[];
}

/**
 * Creates a session for `model` (a file path or the model's bytes) on the requested providers, in order, with the
 * CPU added last when missing; a provider that cannot load here is dropped with a warning that names it and why.
 */
export async function resolveProviders(
  model: string | Uint8Array,
  requested: readonly string[],
  options: ResolveProvidersOptions,
): Promise<ResolvedSession> {
  // TRAIN_EXECUTION_PROVIDERS and icf eval --providers are checked against the names before they get here.
  if (requested.length === 0) throw new ProgrammingError('executionProviders is empty; use ["cpu"]');
  const unknown = requested.filter((name) => !isExecutionProviderName(name));
  if (unknown.length > 0) {
    throw new ProgrammingError(
      `executionProviders names unknown providers (${unknown.join(', ')}); ` +
        `use some of ${EXECUTION_PROVIDER_NAMES.join(', ')}`,
    );
  }
  let providers = [...new Set(requested as readonly ExecutionProviderName[])];
  if (!providers.includes('cpu')) providers.push('cpu');
  // Loaded here, not at import: the registry above is read by the settings, which need no native module.
  const { InferenceSession } = await import('onnxruntime-node');
  for (;;) {
    const sessionOptions = { ...options.sessionOptions, executionProviders: providers };
    try {
      const session =
        typeof model === 'string'
          ? await InferenceSession.create(model, sessionOptions)
          : await InferenceSession.create(model, sessionOptions);
      return { session, providers };
    } catch (error) {
      if (providers.length === 1) throw error;
      const rest = providers.slice(1);
      options.log(
        `WARNING: execution provider ${providers[0]} is unavailable (${messageOf(error).split('\n')[0]}); ` +
          `running ${options.purpose} on [${rest.join(', ')}] instead`,
      );
      providers = rest;
    }
  }
}
