/**
 * The supervising primary of `lifeline serve`: a small cluster primary that holds the listening socket
 * (so its pid is stable for orchestrators and no connection is refused while workers change) and runs
 * the server in N worker processes (N = 1 by default, `--workers N`). On SIGHUP it restarts them one at a
 * time, zero-dark, each replacement running the code on disk now (a fork executes the CLI again).
 *
 * A restart step: fork a replacement, wait until it says it is ready (listening, store open), then ask
 * one old worker to drain with a successor ready (it stops listening, so the primary routes every new
 * connection to the others, and closes its connections with 1012 across the drain window, each told to
 * come back at once), wait for it to exit, and go on with the next. A replacement that exits before it
 * is ready (a config that does not start, a build that does not load) stops the restart: the old
 * workers keep serving.
 *
 * SIGTERM/SIGINT: every worker drains as a single process does (still listening, upgrades answered 503,
 * the hint shifted past the window: nothing serves after it), then the primary exits 0. A SIGKILL of the
 * primary leaves no worker: each exits when its IPC channel to the primary closes (Node's cluster rule).
 * @packageDocumentation
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { LifelineError } from '../errors.js';

/** What the primary tells its workers, in their environment. */
export const WORKER_ENV = {
  /** The demo publish key the primary made, so every worker (and every successor) uses the same one. */
  demoKey: 'LIFELINE_DEMO_PUBLISH_KEY',
  /** The file descriptor of an inherited listening socket (socket activation), to listen on through the primary. */
  listenFd: 'LIFELINE_LISTEN_FD',
  /** Set in a worker started by a SIGHUP: it is the configuration reload. */
  successor: 'LIFELINE_SUCCESSOR',
  /**
   * The port the first workers bound, for a worker started while none serves (the listening handle went
   * with the last one) when --port is 0: it takes that port again, not another free one. Never set while
   * a worker serves: the cluster shares a handle only with a worker asking for the same port (0).
   */
  boundPort: 'LIFELINE_BOUND_PORT',
} as const;

/** The message a primary sends a worker to make it drain and exit. */
export interface DrainRequest {
  readonly cmd: 'lifeline:drain';
  /** A replacement is ready: stop listening at once and tell clients to come back now. */
  readonly successorReady: boolean;
  /** When the restart was asked for (ms since the epoch): its drain window counts from then. */
  readonly requestedAt?: number;
}

/** The message a worker sends once it listens with its store open: it may take the old one's clients. */
export interface ReadyReport {
  readonly cmd: 'lifeline:ready';
  readonly port: number;
  readonly host: string;
}

/**
 * What a drain request asks (undefined for any other message). A request without `successorReady`
 * (a primary of an earlier version) is its rolling drain: stop listening, the configured hint.
 */
export function drainRequestOf(message: unknown): { stopListening: boolean; successorReady: boolean; requestedAt?: number } | undefined {
  if (typeof message !== 'object' || message === null || (message as { cmd?: unknown }).cmd !== 'lifeline:drain') return undefined;
  const { successorReady, requestedAt } = message as { successorReady?: unknown; requestedAt?: unknown };
  if (typeof successorReady !== 'boolean') return { stopListening: true, successorReady: false };
  return { stopListening: successorReady, successorReady, ...(typeof requestedAt === 'number' ? { requestedAt } : {}) };
}

/**
 * The window of a restart's drain, counted from when the restart was asked for: the time its successor
 * took to start is taken out of `drainWindowMs`, so the whole restart ends about a window after the
 * signal. Never below half the window, so a slow start does not crowd every close together.
 */
export function handoverWindowMs(drainWindowMs: number, requestedAt: number | undefined, now: number): number {
  if (requestedAt === undefined) return drainWindowMs;
  const spent = Math.max(0, now - requestedAt);
  return Math.max(drainWindowMs / 2, drainWindowMs - spent);
}

/** Tell the primary this worker is ready (see {@link ReadyReport}). */
export function reportReady(address: { port: number; host: string }): void {
  const report: ReadyReport = { cmd: 'lifeline:ready', port: address.port, host: address.host };
  process.send?.(report);
}

function readyReportOf(message: unknown): ReadyReport | undefined {
  if (typeof message !== 'object' || message === null || (message as { cmd?: unknown }).cmd !== 'lifeline:ready') return undefined;
  return message as ReadyReport;
}

/** A worker of `lifeline serve` exited before it was ready (its own stderr says why): logged by the primary. */
export class WorkerStartError extends LifelineError<'LIFELINE_ERR_WORKER_START'> {
  override name = 'WorkerStartError';
  /**
   * @param worker - the worker's pid
   * @param exitCode - its exit code (2: a usage error), null when a signal ended it
   * @param signal - the signal that ended it, if any
   */
  constructor(
    readonly worker: number | undefined,
    readonly exitCode: number | null,
    readonly signal: string | null,
  ) {
    super('LIFELINE_ERR_WORKER_START', `worker ${worker} exited (${signal ?? exitCode}) before it was ready`);
  }
}

/** Resolves with the worker's ready report; rejects with {@link WorkerStartError} if it exits first. */
function ready(worker: Worker): Promise<ReadyReport> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown) => {
      const report = readyReportOf(message);
      if (!report) return;
      worker.off('exit', onExit);
      worker.off('message', onMessage);
      resolve(report);
    };
    const onExit = (code: number | null, signal: string | null) => {
      worker.off('message', onMessage);
      reject(new WorkerStartError(worker.process.pid, code, signal));
    };
    worker.on('message', onMessage);
    worker.once('exit', onExit);
  });
}

function exited(worker: Worker): Promise<number | null> {
  if (worker.isDead()) return Promise.resolve(worker.process.exitCode);
  return new Promise((resolve) => worker.once('exit', (code: number | null) => resolve(code)));
}

function drain(worker: Worker, successorReady: boolean, requestedAt?: number): void {
  const request: DrainRequest = { cmd: 'lifeline:drain', successorReady, ...(requestedAt !== undefined ? { requestedAt } : {}) };
  // A worker that died meanwhile has no channel: nothing to drain.
  if (worker.isConnected()) worker.send(request);
}

/** Options of {@link runPrimary}. */
export interface PrimaryOptions {
  /** Number of workers. */
  readonly count: number;
  readonly logger: Logger;
  /**
   * Log the primary's own `listening` entry once every first worker is ready (with `workers: N`). With
   * one worker its own entry (with the URLs) is the only one, as with a single process.
   */
  readonly announce: boolean;
  /** Environment given to every worker (on top of this process's). */
  readonly env?: Record<string, string>;
  /**
   * The listening socket was inherited (socket activation): when the last worker dies on its own the
   * primary's copy is closed with it, so the primary exits 1 for the service manager to start it again.
   */
  readonly inheritedSocket?: boolean;
  /** Called once every first worker is ready (the pid file, the demo key). */
  readonly onReady?: (address: ReadyReport) => void;
  /** Check the configuration a replacement would start with; a throw keeps the current workers. */
  readonly checkConfig?: () => void;
}

/**
 * Run the primary until SIGTERM/SIGINT has drained every worker; never resolves (it exits). When a first
 * worker exits before it is ready (a usage error, a port in use, a store that cannot be opened, each
 * reported on stderr by the worker itself), the primary exits with that worker's exit code.
 */
export async function runPrimary(options: PrimaryOptions): Promise<never> {
  const { count, logger } = options;
  // One worker: it accepts from the listening socket itself (the primary only holds the socket, so it
  // stays open while workers change). Round-robin through the primary would hand every connection over
  // IPC and wait for the worker's answer before the next one: a reconnection storm then queues behind a
  // worker busy with the clients already back. Several workers: round-robin, for an even spread (the
  // kernel's own spread between processes can be very uneven).
  if (count === 1) cluster.schedulingPolicy = cluster.SCHED_NONE;
  const current = new Set<Worker>();
  /** Workers that said they are ready: only those are replaced when they die on their own. */
  const serving = new Set<Worker>();
  const retiring = new Set<Worker>();
  let stopping = false;
  let rolling: Promise<void> | undefined;
  /** The port the first workers were given. */
  let boundPort: number | undefined;

  const fork = (extra: Record<string, string> = {}): Worker => {
    const worker = cluster.fork({ ...options.env, ...extra });
    current.add(worker);
    worker.on('message', (message: unknown) => {
      if (readyReportOf(message)) serving.add(worker);
    });
    worker.on('exit', (code, signal) => {
      current.delete(worker);
      const wasServing = serving.delete(worker);
      if (retiring.delete(worker) || stopping || !wasServing) return;
      if (options.inheritedSocket && serving.size === 0) {
        // The inherited socket was closed with the last worker's handle: only a new start gets it again.
        logger.error({ worker: worker.process.pid, code, signal }, 'the only worker exited unexpectedly and the inherited socket closed with it; exiting for the service manager to restart');
        process.exit(1);
      }
      // A worker that died on its own (a crash, the OOM killer) is replaced; its clients resume elsewhere.
      logger.error({ worker: worker.process.pid, code, signal }, 'worker exited unexpectedly; starting a replacement');
      // Not unref'd: with no worker left nothing else keeps the primary alive until the replacement.
      setTimeout(() => {
        if (stopping) return;
        fork(serving.size === 0 && boundPort !== undefined ? { [WORKER_ENV.boundPort]: String(boundPort) } : {});
      }, 500);
    });
    return worker;
  };

  // Signals are handled from the start: a SIGHUP before the first workers are ready restarts them once
  // they are (never the default action, which would end the primary), a SIGTERM stops them.
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  process.on('SIGHUP', () => {
    if (stopping) return;
    logger.info({ signal: 'SIGHUP' }, 'reload requested');
    try {
      options.checkConfig?.();
    } catch (err) {
      logger.error({ err }, 'configuration reload failed; keeping the previous configuration');
      return;
    }
    const requestedAt = Date.now();
    rolling = (rolling ?? started).then(() => roll(requestedAt)).catch((err: unknown) => logger.error({ err }, 'rolling restart failed'));
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // The workers exit with the primary: their IPC channel closes.
      logger.warn({ signal }, 'second stop signal; exiting without finishing the drain');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stop signal; draining every worker');
    const workers = [...current];
    for (const w of workers) {
      retiring.add(w);
      // One still starting may not listen for messages yet, and has no connections: a signal ends it.
      if (serving.has(w)) drain(w, false);
      else w.process.kill('SIGTERM');
    }
    void Promise.all(workers.map(exited)).then((codes) => {
      logger.info('all workers drained; exiting');
      logger.flush?.();
      process.exit(codes.every((c) => c === 0 || c === null) ? 0 : 1);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const first = Array.from({ length: count }, () => fork());
  // Wait for every worker's report now: one that comes up while we await another must not be missed.
  let address: ReadyReport;
  try {
    [address] = (await Promise.all(first.map(ready))) as [ReadyReport];
  } catch (error) {
    // Stopped while starting: the stop handler exits once the workers are gone.
    if (stopping) return new Promise<never>(() => {});
    // The worker said why on stderr (a usage error, the port taken); its exit code is the CLI's.
    stopping = true;
    for (const worker of current) worker.process.kill('SIGKILL');
    const code = error instanceof WorkerStartError && typeof error.exitCode === 'number' && error.exitCode !== 0 ? error.exitCode : 1;
    process.exit(code);
  }
  if (options.announce) logger.info({ port: address.port, host: address.host, workers: count, url: `ws://${address.host}:${address.port}/` }, 'listening');
  else logger.info({ workers: [...current].map((w) => w.process.pid) }, 'supervising: SIGHUP starts a new worker on the code on disk, ready before this one drains');
  boundPort = address.port;
  options.onReady?.(address);
  markStarted();

  const roll = async (requestedAt: number) => {
    const old = [...current];
    logger.info({ workers: old.length }, 'rolling restart started');
    for (const worker of old) {
      if (stopping) return;
      // Each step's drain window counts from the step's start (the first one's from the signal).
      const stepStart = worker === old[0] ? requestedAt : Date.now();
      const replacement = fork({ [WORKER_ENV.successor]: '1' });
      try {
        await ready(replacement);
      } catch (error) {
        if (stopping) return;
        logger.error({ err: error, worker: worker.process.pid }, 'restart stopped: the new worker exited before it was ready; the current workers keep serving');
        return;
      }
      if (stopping) return;
      retiring.add(worker);
      current.delete(worker);
      logger.info({ old: worker.process.pid, new: replacement.process.pid }, 'replacement ready; draining old worker');
      drain(worker, true, stepStart);
      await exited(worker);
    }
    logger.info('rolling restart finished');
  };

  return new Promise<never>(() => {});
}
