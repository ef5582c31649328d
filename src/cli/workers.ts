/**
 * `lifeline serve --workers N`: a cluster primary that runs N worker processes behind one port and
 * restarts them one at a time on SIGHUP, so new connections are always accepted somewhere.
 *
 * A rolling step: fork a new worker, wait until it listens (it is ready), then ask one old worker to
 * drain (it stops listening, so the primary routes new connections to the others, and closes its
 * connections with 1012 across the drain window), wait for it to exit, and go on with the next.
 * @packageDocumentation
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';

/** The message a primary sends a worker to make it drain and exit. */
export const DRAIN_MESSAGE = { cmd: 'lifeline:drain' } as const;

/** Whether `message` is {@link DRAIN_MESSAGE}. */
export function isDrainMessage(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { cmd?: unknown }).cmd === DRAIN_MESSAGE.cmd;
}

function listening(worker: Worker): Promise<{ port: number; address: string }> {
  return new Promise((resolve, reject) => {
    const onListening = (address: { port: number; address: string }) => {
      worker.off('exit', onExit);
      resolve(address);
    };
    const onExit = (code: number) => {
      worker.off('listening', onListening);
      reject(new Error(`worker ${worker.process.pid} exited with ${code} before listening`));
    };
    worker.once('listening', onListening);
    worker.once('exit', onExit);
  });
}

function exited(worker: Worker): Promise<void> {
  if (worker.isDead()) return Promise.resolve();
  return new Promise((resolve) => worker.once('exit', () => resolve()));
}

/**
 * Run the primary until SIGTERM/SIGINT has drained every worker; never resolves (it exits).
 * @param onListening - called once every first worker listens
 */
export async function runPrimary(count: number, logger: Logger, onListening: () => void = () => {}): Promise<never> {
  const current = new Set<Worker>();
  const retiring = new Set<Worker>();
  let stopping = false;
  let rolling: Promise<void> | undefined;

  const fork = (): Worker => {
    const worker = cluster.fork();
    current.add(worker);
    worker.on('exit', (code, signal) => {
      current.delete(worker);
      if (retiring.delete(worker) || stopping) return;
      // A worker that died on its own (a crash, the OOM killer) is replaced; its clients resume elsewhere.
      logger.error({ worker: worker.process.pid, code, signal }, 'worker exited unexpectedly; starting a replacement');
      setTimeout(() => {
        if (!stopping) fork();
      }, 500).unref();
    });
    return worker;
  };

  const first = Array.from({ length: count }, () => fork());
  // Listen for every worker's 'listening' now: one that comes up while we await another must not be missed.
  const ready = first.map(listening);
  const [address] = await Promise.all(ready);
  logger.info({ port: address!.port, host: address!.address, workers: count, url: `ws://${address!.address}:${address!.port}/` }, 'listening');
  onListening();

  const roll = async () => {
    const old = [...current];
    logger.info({ workers: old.length }, 'rolling restart started');
    for (const worker of old) {
      if (stopping) return;
      const replacement = fork();
      await listening(replacement);
      retiring.add(worker);
      current.delete(worker);
      logger.info({ old: worker.process.pid, new: replacement.process.pid }, 'replacement ready; draining old worker');
      worker.send(DRAIN_MESSAGE);
      await exited(worker);
    }
    logger.info('rolling restart finished');
  };

  process.on('SIGHUP', () => {
    if (stopping) return;
    rolling = (rolling ?? Promise.resolve()).then(roll).catch((err: unknown) => logger.error({ err }, 'rolling restart failed'));
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stop signal; draining every worker');
    const workers = [...current];
    for (const w of workers) {
      retiring.add(w);
      w.send(DRAIN_MESSAGE);
    }
    void Promise.all(workers.map(exited)).then(() => {
      logger.info('all workers drained; exiting');
      process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return new Promise<never>(() => {});
}
