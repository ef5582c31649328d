/**
 * A Redis prefix that holds lifeline's first key layout (before Redis Cluster support) is refused at
 * start, with the reason and what to do, never served as if it were empty.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { killAll, startServe } from '../support/serve-process.js';

const prefix = uniquePrefix('legacy');
afterEach(async () => {
  await killAll();
});
afterAll(async () => {
  await deletePrefix(REDIS_URL, prefix);
});

describe('serve on a Redis prefix in the old layout', () => {
  it('exits with the reason instead of serving', async () => {
    const admin = new Redis(REDIS_URL);
    try {
      await admin.sadd(`${prefix}channels`, 'news'); // what the first layout kept: a global set of channels
    } finally {
      admin.disconnect();
    }
    const error = await startServe(['--store', REDIS_URL, '--redis-prefix', prefix]).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/server exited before the log entry/);
    expect(error?.message).toMatch(/first Redis layout/);
  });
});
