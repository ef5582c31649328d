/**
 * The shared Redis for tests, at REDIS_URL, with a unique key prefix per test. Importing this module
 * checks once that it answers: without it, every Redis test fails at once with one line saying what
 * is missing, instead of a client retrying ECONNREFUSED until the test times out.
 */
import { Redis } from 'ioredis';

/** The shared Redis every test may use (with its own prefix). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Fail with one line unless the Redis at `url` answers a PING within 2 s. */
async function assertReachable(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 2000, enableOfflineQueue: false });
  let last: NodeJS.ErrnoException | undefined;
  redis.on('error', (error: NodeJS.ErrnoException) => (last = error));
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    // ioredis reports "Connection is closed."; the socket's own error (ECONNREFUSED ...) says more.
    const why = last?.code ?? last?.message ?? (error as Error).message;
    throw new Error(`no Redis at ${url} (${why}): the Redis tests need one; start redis-server (apt-get install redis-server), or set REDIS_URL`);
  } finally {
    redis.disconnect();
  }
}

await assertReachable(REDIS_URL);

/** A key prefix no other test run uses. */
export function uniquePrefix(label: string): string {
  return `lifeline-test:${label}:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;
}

/** Delete every key under `prefix`. */
export async function deletePrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
