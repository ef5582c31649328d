/** Ports for tests: servers listen on 127.0.0.1, on a port the system picks. */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * The lowest port the kernel hands out on its own (to outgoing connections and `listen(0)`), 32768 where
 * it cannot be read. A port a test picks to give to another process (a `redis-server`, a `serve`) is taken
 * below it: in the ephemeral range, a client connection opened by any test in the meantime could be given
 * the same port before that process binds it (seen: a cluster node that "did not start").
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const HIGHEST = ephemeralLow() - 1;
const LOWEST = 10_000;
/** Ports this process has handed out: never twice (a cluster asks for a dozen at once). */
const handedOut = new Set<number>();

async function canListen(port: number): Promise<boolean> {
  const server = createServer();
  server.on('error', () => undefined);
  server.listen(port, '127.0.0.1');
  const ok = await Promise.race([once(server, 'listening').then(() => true), once(server, 'error').then(() => false)]);
  if (ok) await new Promise((r) => server.close(r));
  return ok;
}

/** A free TCP port on 127.0.0.1, below the kernel's ephemeral range, not handed out before by this process. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST + 1));
    if (handedOut.has(port)) continue;
    if (!(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found between ${LOWEST} and ${HIGHEST}`);
}
