// Array.isArray narrows a value declared as a readonly array to any[]; this guard narrows to unknown[] instead, for
// the run-time checks on arguments that callers outside TypeScript (JSON, plain JavaScript) may get wrong.
export function isArray(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}
