// The module `@azure/functions-core` that the Azure Functions Node.js worker provides to `@azure/functions`.
// Supplying it lets the local host collect the very registrations that `func start` and Azure see, and
// invoke them through the library's own programming model (the same argument and result conversions).
import Module from 'node:module';
import * as path from 'node:path';

/** The subset of the worker's RPC types that the programming model reads and writes. */
export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  int?: number | null;
  double?: number | null;
  http?: RpcHttpData | null;
  /** An SDK-type binding's reference to its resource (a blob: where it is, not its bytes). */
  modelBindingData?: RpcModelBindingData | null;
}

export interface RpcModelBindingData {
  version?: string | null;
  source?: string | null;
  contentType?: string | null;
  content?: Uint8Array | null;
}

export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: RpcTypedData | null;
  params?: Record<string, string> | null;
  query?: Record<string, string> | null;
  statusCode?: string | null;
  cookies?: unknown[] | null;
  enableContentNegotiation?: boolean | null;
}

export interface RpcBindingInfo {
  type?: string | null;
  direction?: 'in' | 'out' | 'inout' | null;
  [option: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: unknown;
}

export type FunctionCallback = (...args: unknown[]) => unknown;

export interface RpcInvocationRequest {
  invocationId: string;
  functionId: string;
  inputData: { name: string; data: RpcTypedData }[];
  triggerMetadata: Record<string, RpcTypedData>;
  retryContext?: { retryCount: number; maxRetryCount: number };
}

export interface RpcInvocationResponse {
  invocationId: string;
  outputData?: { name: string; data: RpcTypedData | null | undefined }[];
  returnValue?: RpcTypedData | null;
}

export type RpcLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';

export interface CoreInvocationContext {
  invocationId: string;
  request: RpcInvocationRequest;
  metadata: FunctionMetadata;
  state?: string;
  log(level: RpcLogLevel, category: string, message: string): void;
}

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], handler: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(context: CoreInvocationContext): InvocationModel;
}

export interface RegisteredFunction {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

export type HookCallback = (context: unknown) => unknown;
/** The hook `app.hook.appStart` registers under. */
export const APP_START_HOOK = 'appStart';

/** What the worker exposes; `@azure/functions` calls these while function files load. */
export class FunctionsCore {
  readonly functions: RegisteredFunction[] = [];
  readonly hooks = new Map<string, HookCallback[]>();
  programmingModel: ProgrammingModel | undefined;
  readonly version = '3.10.1';

  constructor(private readonly systemLog: (level: RpcLogLevel, message: string) => void) {}

  registerFunction = (metadata: FunctionMetadata, callback: FunctionCallback): { dispose(): void } => {
    if (this.functions.some((f) => f.metadata.name.toLowerCase() === metadata.name.toLowerCase())) {
      throw new Error(`A function named "${metadata.name}" is already registered`);
    }
    const entry = { metadata, callback };
    this.functions.push(entry);
    return { dispose: () => this.functions.splice(this.functions.indexOf(entry), 1) };
  };

  setProgrammingModel = (model: ProgrammingModel): void => {
    this.programmingModel = model;
  };

  getProgrammingModel = (): ProgrammingModel | undefined => this.programmingModel;

  registerHook = (hookName: string, callback: HookCallback): { dispose(): void } => {
    const list = this.hooks.get(hookName) ?? [];
    list.push(callback);
    this.hooks.set(hookName, list);
    return { dispose: () => list.splice(list.indexOf(callback), 1) };
  };

  log = (level: RpcLogLevel, _category: string, message: string): void => this.systemLog(level, message);
}

const CORE_MODULE_ID = '@azure/functions-core';
type ResolveFilename = (request: string, ...rest: unknown[]) => string;

/**
 * Makes `require('@azure/functions-core')` return `core` in this process. Returns a function that undoes it.
 * Must run before the first function file registers anything.
 */
export function installFunctionsCore(core: FunctionsCore): () => void {
  const moduleInternals = Module as unknown as {
    _resolveFilename: ResolveFilename;
    _cache: Record<string, NodeModule>;
  };
  const fakeFilename = path.join(__dirname, '__azure_functions_core__.js');
  const fakeModule = new Module(fakeFilename) as NodeModule & { loaded: boolean };
  fakeModule.filename = fakeFilename;
  fakeModule.exports = core;
  fakeModule.loaded = true;
  moduleInternals._cache[fakeFilename] = fakeModule;

  const original = moduleInternals._resolveFilename;
  moduleInternals._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
    return request === CORE_MODULE_ID ? fakeFilename : original.call(this, request, ...rest);
  };
  return () => {
    moduleInternals._resolveFilename = original;
    delete moduleInternals._cache[fakeFilename];
  };
}
