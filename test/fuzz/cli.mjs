// `npm run fuzz -- --runs N`: the fuzz suite with N generated inputs per property (FUZZ_RUNS), then a summary of
// how many inputs each property tried and how many failed. `npm test` runs the same suite with a bounded count.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '1000' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs must be a positive whole number, got "${values.runs}"`);
  process.exit(2);
}
const result = spawnSync('npx', ['vitest', 'run', 'test/fuzz'], {
  env: { ...process.env, FUZZ_RUNS: String(runs) },
  encoding: 'utf8',
  maxBuffer: 256 * 1024 * 1024,
});
const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
process.stdout.write(output);
// Without vitest's colour codes.
const lines = output
  .split('\n')
  // eslint-disable-next-line no-control-regex -- ESC starts the ANSI colour codes this strips
  .map((line) => line.replace(/\x1b\[[0-9;]*m/g, '').trim())
  .filter((line) => line.startsWith('fuzz: '));
const tried = lines.reduce((sum, line) => sum + Number(/(\d+) inputs tried/.exec(line)?.[1] ?? 0), 0);
const failedProperties = result.status === 0 ? 0 : Math.max(1, (output.match(/Property failed/g) ?? []).length);
console.log(
  `\nfuzz summary: ${tried} inputs tried over ${lines.length} passing properties, ${failedProperties} failing ${failedProperties === 1 ? 'property' : 'properties'} (the counterexamples are above)`,
);
process.exit(result.status ?? 1);
