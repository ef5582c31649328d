import type { Logger } from 'pino';
import type { ServerCore } from '../core/server-core.js';

/** Options of {@link handleSignals}. */
export interface SignalOptions {
  /** Re-read configuration on SIGHUP before connections are cycled; a throw keeps the old configuration. */
  reload?: () => void | Promise<void>;
  /** Where to log. */
  logger: Logger;
  /** Called after a SIGTERM/SIGINT drain completes; @default `process.exit(0)` */
  exit?: (code: number) => void;
  /** Runs after the drain and before exit, e.g. to close the store. */
  beforeExit?: () => void | Promise<void>;
  /**
   * Whether SIGHUP reloads and cycles connections in this process. `false` for a process a supervisor
   * restarts (a worker of `lifeline serve`): SIGHUP is then ignored here (a terminal's hangup reaches the
   * whole process group; the supervisor acts on it). @default true
   */
  restartOnHup?: boolean;
}

/**
 * Wire the process signals to the server: SIGTERM and SIGINT drain and exit 0 (a second one exits at once
 * with 1); SIGHUP reloads the configuration and cycles connections with 1012 while the process stays up.
 * Returns a function that removes the handlers.
 */
export function handleSignals(server: Pick<ServerCore, 'shutdown' | 'restart'>, options: SignalOptions): () => void {
  const { logger } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const onStop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second stop signal; exiting without finishing the drain');
      exit(1);
      return;
    }
    stopping = true;
    logger.info({ signal }, 'stop signal; draining');
    server.shutdown().then(() => options.beforeExit?.()).then(
      () => {
        logger.info('drained; exiting');
        logger.flush?.();
        exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'drain failed');
        exit(1);
      },
    );
  };
  const onHup = () => {
    if (options.restartOnHup === false) {
      logger.debug({ signal: 'SIGHUP' }, 'SIGHUP ignored: the supervising process restarts this one');
      return;
    }
    logger.info({ signal: 'SIGHUP' }, 'reload requested');
    void (async () => {
      try {
        await options.reload?.();
      } catch (err) {
        logger.error({ err }, 'configuration reload failed; keeping the previous configuration');
      }
      await server.restart();
    })();
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  return () => {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHup);
  };
}
