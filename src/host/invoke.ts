// Invokes a registered function the way the Node.js worker does: through the programming model's
// InvocationModel, with inputs and trigger metadata in the worker's RPC shapes.
import { randomUUID } from 'node:crypto';

import type {
  FunctionsCore,
  RegisteredFunction,
  RpcInvocationResponse,
  RpcLogLevel,
  RpcTypedData,
} from './functionsCore';

export interface InvocationInput {
  /** The trigger's data. */
  trigger: RpcTypedData;
  /** Trigger metadata as the host's binding data (PascalCase keys, as Azure sends them). */
  triggerMetadata?: Record<string, RpcTypedData>;
  retryContext?: { retryCount: number; maxRetryCount: number };
}

export type InvocationLog = (functionName: string, invocationId: string, level: RpcLogLevel, message: string) => void;

/** The local host's own failure to run a function (no trigger binding...): internal to the host, no AppError. */
export class FunctionInvocationError extends Error {
  override name = 'FunctionInvocationError';
}

export function triggerBindingName(fn: RegisteredFunction): string {
  const entry = Object.entries(fn.metadata.bindings).find(
    ([, b]) => b.direction === 'in' && /Trigger$/i.test(b.type ?? ''),
  );
  if (!entry) throw new FunctionInvocationError(`function "${fn.metadata.name}" has no trigger binding`);
  return entry[0];
}

export async function invokeFunction(
  core: FunctionsCore,
  fn: RegisteredFunction,
  input: InvocationInput,
  log: InvocationLog,
): Promise<RpcInvocationResponse> {
  const model = core.programmingModel;
  if (!model)
    throw new FunctionInvocationError('no programming model was set: did a function file import @azure/functions?');
  const invocationId = randomUUID();
  const name = fn.metadata.name;
  const invocation = model.getInvocationModel({
    invocationId,
    metadata: fn.metadata,
    request: {
      invocationId,
      functionId: name,
      inputData: [{ name: triggerBindingName(fn), data: input.trigger }],
      triggerMetadata: input.triggerMetadata ?? {},
      ...(input.retryContext ? { retryContext: input.retryContext } : {}),
    },
    log: (level, _category, message) => log(name, invocationId, level, message),
  });
  const { context, inputs } = await invocation.getArguments();
  const result = await invocation.invokeFunction(context, inputs, fn.callback);
  return invocation.getResponse(context, result);
}
