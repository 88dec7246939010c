// How many generated inputs each fuzz property tries: a bounded number in `npm test`, more with
// `npm run fuzz -- --runs N` (which sets FUZZ_RUNS). Each property reports what it tried and what failed.
export function fuzzRuns(defaultRuns: number): number {
  const fromEnv = Number(process.env['FUZZ_RUNS']);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : defaultRuns;
}

/** One line per property, collected by scripts/fuzz.mjs from the test output. */
export function reportFuzz(property: string, tried: number, failed: number): void {
  // stderr, not the console: vitest shows console output only for failing tests, and `npm run fuzz` counts these.
  process.stderr.write(`fuzz: ${property}: ${tried} inputs tried, ${failed} failed\n`);
}
