import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // What the code under test logs (a trainer's lines, a backbone's load time) shows for failing tests only.
    silent: 'passed-only',
  },
});
