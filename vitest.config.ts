import { readdirSync, readFileSync } from 'node:fs';
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
  'test/integration/redis-cluster-drill.test.ts',
  // Issue 16: failovers of real primaries and replicas (a cluster master SIGKILLed under load).
  'test/integration/redis-failover.test.ts',
  'test/integration/redis-cluster-failover.test.ts',
  'test/integration/redis-durability.test.ts',
  'test/integration/workers.test.ts',
  'test/integration/redis-outage.test.ts',
  'test/integration/readme.test.ts',
  'test/integration/presence-restarts.test.ts',
  'test/integration/presence-nodes.test.ts',
  'test/integration/zero-dark.test.ts',
  'test/integration/shared-sqlite.test.ts',
  // Every bench scenario in smoke mode: restart storms of real processes, timed against their restarts.
  'test/integration/bench-smoke.test.ts',
];

/**
 * The fast tier (`npm run test:fast`), for the inner loop: every test that runs in this process — unit tests,
 * and integration tests over real sockets on port 0 against an in-process server — and none that starts a
 * process (a `serve`, a drill, a private Redis, a browser, a tarball install). Found by what a file imports,
 * so a new test lands in the right tier by itself. `npm test` always runs everything.
 */
const STARTS_A_PROCESS = /child_process|support\/(serve-process|drill-process|private-redis)|e2e\/support|playwright|bench\//;
const FAST = readdirSync('test', { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.test.ts'))
  .map((file) => `test/${file}`)
  .filter((file) => !STARTS_A_PROCESS.test(readFileSync(file, 'utf8')));

const fastOnly = process.env.npm_lifecycle_event === 'test:fast';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    projects: fastOnly
      ? [{ extends: true, test: { name: 'fast', include: FAST, exclude: [...configDefaults.exclude, ...LOAD], maxWorkers: 2 } }]
      : [
          // Integration tests spawn real server processes; two cores, so keep parallelism modest.
          { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...LOAD], maxWorkers: 2 } },
          { extends: true, test: { name: 'load', include: LOAD, maxWorkers: 1, fileParallelism: false, sequence: { groupOrder: 1 } } },
        ],
  },
});
