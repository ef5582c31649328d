import type { Logger } from 'pino';
import { PolicyViolationError, UnsupportedDataError, type LifelineServer, type MessageHandler, type SessionMessageHandler } from '../server/index.js';

/**
 * The `--demo` application: echoes text frames, and lets anyone watch the close codes happen.
 * - `crash`: the handler throws, so the connection closes with 1011 and an incident id;
 * - `crash-async`: the same from a rejected promise;
 * - `forbidden`: the handler rejects the request as a policy violation, 1008;
 * - any binary frame: 1003, the demo speaks text only.
 */
export const demoMessageHandler: MessageHandler = async (connection, data, isBinary) => {
  if (isBinary || typeof data !== 'string') throw new UnsupportedDataError('the demo echoes text frames only');
  switch (data) {
    case 'crash':
      // The message holds details a client must never see; the test suite checks they stay in the log.
      throw new Error('demo crash requested (internal detail: /srv/lifeline/handlers.ts:42 token=s3cr3t)');
    case 'crash-async':
      await Promise.resolve();
      throw new Error('demo async crash requested (internal detail: /srv/lifeline/handlers.ts:57 token=s3cr3t)');
    case 'forbidden':
      throw new PolicyViolationError('demo: forbidden is not allowed');
    default:
      connection.send(data);
  }
};

/** The `--demo` handler for acknowledged `lifeline.v1` messages: `"crash"` throws (1011, then a rejection on resend). */
export const demoSessionHandler: SessionMessageHandler = (_connection, data) => {
  if (data === 'crash') throw new Error('demo crash requested (internal detail: /srv/lifeline/handlers.ts:88 token=s3cr3t)');
};

/**
 * Fault injection for drills (`chaosCrashEveryMs`): every `everyMs`, one random open connection's handler
 * throws inside its error boundary, so it closes with a real 1011 and incident while the others carry on.
 */
export function startChaos(server: LifelineServer, everyMs: number, logger: Logger): () => void {
  logger.warn({ everyMs }, 'chaos: a random connection will crash periodically');
  const timer = setInterval(() => {
    // The dashboard watching the drill is not a victim: it is how people see the chaos.
    const open = [...server.connections].filter((c) => c.state === 'open' && !c.info.url.includes('lifeline-dashboard'));
    const victim = open[Math.floor(Math.random() * open.length)];
    if (!victim) return;
    server.run(victim, () => {
      throw new Error('chaos: injected handler failure');
    });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
