/**
 * The restart storm's prober: a new client every `everyMs` throughout the restart, the way fresh page
 * loads keep arriving during a deploy. Each probe opens a WebSocket (a plain upgrade, no application
 * protocol), counts whether the upgrade succeeded, and closes. A probe that is not upgraded is
 * classified: `refused` (TCP connection refused: nothing listening), `rejected` (an HTTP answer other
 * than 101, by status, e.g. 503 from a draining server), `timeout` (no answer within `timeoutMs`) or
 * `other` (reset, closed early; by error code).
 */
import { WebSocket } from 'ws';
import { monoMs } from './stats.mjs';

/**
 * Start probing `url`. Times are recorded relative to `t0()` (monotonic ms; negative before the signal).
 * @param {{url: string, everyMs: number, timeoutMs: number, t0: () => number}} options
 * @returns {{stop(): Promise<object>}} `stop` waits for the probes in flight, then returns the counts
 */
export function startProber({ url, everyMs, timeoutMs, t0 }) {
  const counts = { sent: 0, upgraded: 0, refused: 0, rejected: {}, timeout: 0, other: {}, failures: [] };
  const inFlight = new Set();
  const fail = (kind, detail) => {
    const at = Math.round(monoMs() - t0());
    if (kind === 'refused') counts.refused += 1;
    else if (kind === 'rejected') counts.rejected[detail] = (counts.rejected[detail] ?? 0) + 1;
    else if (kind === 'timeout') counts.timeout += 1;
    else counts.other[detail] = (counts.other[detail] ?? 0) + 1;
    if (counts.failures.length < 200) counts.failures.push({ at, kind, detail });
  };
  const probe = () => {
    counts.sent += 1;
    let settled = false;
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const done = new Promise((resolve) => {
      const settle = (outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        outcome();
        resolve();
      };
      const timer = setTimeout(() => settle(() => {
        fail('timeout');
        ws.terminate();
      }), timeoutMs);
      ws.on('open', () => settle(() => {
        counts.upgraded += 1;
        ws.close(1000);
      }));
      // With a listener here `ws` leaves the handshake to us: note the status and abort it.
      ws.on('unexpected-response', (_req, res) => settle(() => {
        fail('rejected', String(res.statusCode));
        res.resume();
        ws.terminate();
      }));
      ws.on('error', (error) => settle(() => fail(error.code === 'ECONNREFUSED' ? 'refused' : 'other', error.code ?? 'error')));
      ws.on('close', () => settle(() => fail('other', 'closed before open')));
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };
  probe();
  const interval = setInterval(probe, everyMs);
  return {
    async stop() {
      clearInterval(interval);
      await Promise.all([...inFlight]);
      const rejected = Object.values(counts.rejected).reduce((a, b) => a + b, 0);
      const other = Object.values(counts.other).reduce((a, b) => a + b, 0);
      const notUpgraded = counts.refused + rejected + counts.timeout + other;
      const times = counts.failures.map((f) => f.at);
      return {
        ...counts,
        notUpgraded,
        firstFailureMs: times.length ? Math.min(...times) : null,
        lastFailureMs: times.length ? Math.max(...times) : null,
      };
    },
  };
}
