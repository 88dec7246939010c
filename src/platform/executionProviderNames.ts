// The names of ONNX Runtime's execution providers that a setting or option may name: a leaf, so that configuration
// can validate them without loading the runtime or the trainer. A new provider is one line here.

/** Every provider that may be asked for, in the order a preference list usually takes. */
export const EXECUTION_PROVIDERS = [
  /** NVIDIA GPUs through CUDA (its libraries are downloaded when onnxruntime-node installs, from outside npm). */
  { name: 'cuda' },
  /** GPUs through WebGPU: Dawn over Vulkan, bundled in onnxruntime-node 1.30 (no CUDA download). */
  { name: 'webgpu' },
  /** Always there: the fallback. */
  { name: 'cpu' },
] as const;

export type ExecutionProviderName = (typeof EXECUTION_PROVIDERS)[number]['name'];

export const EXECUTION_PROVIDER_NAMES = EXECUTION_PROVIDERS.map((provider) => provider.name) as [
  ExecutionProviderName,
  ...ExecutionProviderName[],
];

/** Whether `name` is a registered provider. */
export function isExecutionProviderName(name: string): name is ExecutionProviderName {
  return (EXECUTION_PROVIDER_NAMES as readonly string[]).includes(name);
}
