import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The drills: many clients across restarts of real processes, timed against those restarts. They run
 * after everything else, one at a time, so that no two of them (nor the rest of the suite) starve each
 * other of the two cores, which would turn a client's backoff or a late connection into a false failure.
 */
const LOAD = [
  'test/integration/no-loss-restarts.test.ts',
  'test/integration/chaos.test.ts',
  'test/integration/redis-scale-out.test.ts',
  'test/integration/workers.test.ts',
  'test/integration/redis-outage.test.ts',
  'test/integration/readme.test.ts',
  'test/integration/zero-dark.test.ts',
  'test/integration/shared-sqlite.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    projects: [
      // Integration tests spawn real server processes; two cores, so keep parallelism modest.
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...LOAD], maxWorkers: 2 } },
      { extends: true, test: { name: 'load', include: LOAD, maxWorkers: 1, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
