/**
 * Noticing that the process ran out of file descriptors. When it has, the kernel refuses `accept` with
 * EMFILE and libuv quietly accepts and closes the waiting connections (so the listen queue does not spin):
 * clients are dropped and Node is never told. So the server looks for itself, once a second and cheaply:
 * only when its own connections come close to the descriptor limit does it count the process's open
 * descriptors (Linux: /proc/self/fd), and at the limit it logs (rate-limited) and counts.
 * @packageDocumentation
 */
import { readdirSync, readFileSync } from 'node:fs';

/** What the watch reports to the server. */
export interface FdWatchSink {
  /** Connections open now: each holds a descriptor. */
  readonly connections: () => number;
  /** The process is at its descriptor limit: new connections are being dropped. */
  readonly exhausted: (open: number, limit: number) => void;
}

/** The soft limit on open files of this process, or undefined where it cannot be read. */
export function descriptorLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

/**
 * Descriptors the process has open now, or undefined where they cannot be counted; `Infinity` when
 * counting them needs a descriptor that is not there (which answers the question).
 */
export function openDescriptors(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'EMFILE' || code === 'ENFILE' ? Infinity : undefined;
  }
}

/**
 * Watch the descriptor limit every `intervalMs` until the returned function is called. Does nothing
 * where the limit cannot be read (not Linux).
 */
export function watchDescriptors(sink: FdWatchSink, intervalMs = 1000): () => void {
  const limit = descriptorLimit();
  if (limit === undefined) return () => undefined;
  // Counting is only worth it once connections hold a good part of the limit (the rest: files, the
  // listener, pipes, the store, whatever the application opens).
  const margin = Math.max(64, Math.floor(limit / 2));
  const timer = setInterval(() => {
    if (sink.connections() < limit - margin) return;
    const open = openDescriptors();
    // libuv keeps one descriptor in reserve for its EMFILE trick: at limit - 1 nothing new gets in.
    if (open !== undefined && open >= limit - 1) sink.exhausted(Math.min(open, limit), limit);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
