/** `--store redis-cluster://…`: the node URLs `serve` hands to the Redis store, credentials given once. */
import { describe, expect, it } from 'vitest';
import { clusterNodes } from '../../src/cli/commands/serve.js';
import { UsageError } from '../../src/cli/io.js';

describe('serve --store redis-cluster://', () => {
  it('names each node as a redis:// URL, with the credentials and TLS of the whole', () => {
    expect(clusterNodes('redis-cluster://10.0.0.1:7000,10.0.0.2:7001')).toEqual(['redis://10.0.0.1:7000', 'redis://10.0.0.2:7001']);
    expect(clusterNodes('rediss-cluster://app:s3cret@a.example:6380,b.example:6380/')).toEqual(['rediss://app:s3cret@a.example:6380', 'rediss://app:s3cret@b.example:6380']);
    expect(clusterNodes('redis-cluster://[::1]:7000')).toEqual(['redis://[::1]:7000']);
  });

  it('refuses a cluster URL without nodes, or a node without a port, as a usage error', () => {
    expect(() => clusterNodes('redis-cluster://')).toThrow(UsageError);
    expect(() => clusterNodes('redis-cluster://10.0.0.1')).toThrow(/not host:port/);
    expect(() => clusterNodes('redis-cluster://a:1,b')).toThrow(UsageError);
  });
});
