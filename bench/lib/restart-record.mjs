/**
 * Per-client bookkeeping of the restart storm, on the load-generator side: reconnect attempts, closes,
 * returns, which numbered messages arrived, and the client's **gap**.
 *
 * The gap is the staleness a user sees: from the arrival of the last message received before the
 * connection closed to the arrival of the first **live** message after the client is back. A message
 * is live when its publish time (`ts` in the payload: when the publisher sent the attempt the server
 * stored, on CLOCK_MONOTONIC, which every process on the machine shares) is later than the moment
 * the client was back. What arrives in between is replayed (resume) or, for clients without resume,
 * missing (counted as lost). With a steady publisher at R messages per second the first live message
 * comes within about 1/R of the return, so that is the gap's resolution.
 *
 * A client closed again before its first live message (a rolling restart that moves it twice) keeps
 * the episode open: its gap runs from the last message before the *first* close, since it has seen
 * nothing live in between. A client closed several times with live messages in between has several
 * gaps; its worst one is reported.
 */
import { Histogram, monoMs } from './stats.mjs';

/**
 * Shared by every record of one load-generator process: when the restart was signalled (`t0`, monotonic
 * ms; Infinity until armed), every attempt's and every close's time since then (the herd's shape and
 * the drain's), and the delivery latency before the signal (whether the machine kept up with the rate).
 * `now` is the clock (monotonic ms; a test passes its own to check the gap rules).
 */
export function newStorm({ now = monoMs } = {}) {
  return { t0: Infinity, now, attemptTimes: [], closeTimes: [], steady: new Histogram() };
}

/**
 * A fresh record for one client. Its methods are the client implementation's hooks: `attempt` (a
 * WebSocket constructed), `open` (it opened), `failed` (a reported failed attempt), `closed` (the
 * application connection closed), `back(resumed)` (usable again: welcomed, connected, open),
 * `recovery` (lifeline said the history was not recovered), `receive(payload)` (a numbered message).
 * @param {ReturnType<typeof newStorm>} storm
 */
export function newRecord(storm) {
  const r = {
    attempts: 0,
    opens: 0,
    failedReported: 0,
    /** Whether the client is connected and usable right now (it was when it subscribed, before t0). */
    up: true,
    closes: 0,
    /** ms since t0 of the latest return (the one that ended its last outage). */
    backAt: undefined,
    resumed: undefined,
    recoveries: 0,
    received: new Uint8Array(1024),
    duplicates: 0,
    /** Arrival (monotonic ms) of the newest message. */
    lastArrival: undefined,
    /** The outage being measured: `{ lastBefore, backAt }` (monotonic ms), until a live message ends it. */
    episode: undefined,
    /** Worst gap (ms) of this client, undefined if no outage ended with a live message. */
    gap: undefined,
    gaps: 0,
    /** An outage that began before any message had arrived: no gap can be measured for it. */
    noMessageBeforeClose: 0,
    attempt() {
      const now = storm.now();
      if (now >= storm.t0) {
        r.attempts += 1;
        storm.attemptTimes.push(now - storm.t0);
      }
    },
    open() {
      if (storm.now() >= storm.t0) r.opens += 1;
    },
    failed() {
      if (storm.now() >= storm.t0) r.failedReported += 1;
    },
    closed() {
      const now = storm.now();
      if (now < storm.t0 || !r.up) return;
      r.up = false;
      r.closes += 1;
      storm.closeTimes.push(now - storm.t0);
      if (r.episode) return; // closed again before anything live arrived: the same outage goes on
      if (r.lastArrival === undefined) r.noMessageBeforeClose += 1;
      else r.episode = { lastBefore: r.lastArrival, backAt: undefined };
    },
    back(resumed) {
      const now = storm.now();
      if (now < storm.t0 || r.up) return;
      r.up = true;
      r.backAt = now - storm.t0;
      r.resumed = resumed;
      if (r.episode) r.episode.backAt = now;
    },
    recovery() {
      r.recoveries += 1;
    },
    /** @param {{n: number, ts: number}} payload */
    receive(payload) {
      const now = storm.now();
      const { n } = payload;
      if (n >= r.received.length) {
        const grown = new Uint8Array(Math.max(n + 1, r.received.length * 2));
        grown.set(r.received);
        r.received = grown;
      }
      if (r.received[n]) r.duplicates += 1;
      r.received[n] = 1;
      r.lastArrival = now;
      if (now < storm.t0) storm.steady.record(now - payload.ts);
      const e = r.episode;
      if (e && e.backAt !== undefined && r.up && payload.ts > e.backAt) {
        const gap = now - e.lastBefore;
        r.gap = r.gap === undefined ? gap : Math.max(r.gap, gap);
        r.gaps += 1;
        r.episode = undefined;
      }
    },
  };
  return r;
}

/** A record that counts nothing (clients opened outside the restart storm). */
export function nullRecord() {
  return { attempt() {}, open() {}, failed() {}, closed() {}, back() {}, recovery() {}, receive() {} };
}

/**
 * Whether the client has been through the restart and is usable again: closed at least once since
 * t0 and up now. (A client not closed yet is not back: its server has not restarted it yet.)
 */
export function isBack(r) {
  return r.closes > 0 && r.up;
}

/**
 * One load generator's outcome against the list of acknowledged publishes.
 * @param {ReturnType<typeof newRecord>[]} records
 * @param {number[]} acked
 * @param {ReturnType<typeof newStorm>} storm
 */
export function summarise(records, acked, storm) {
  const out = {
    clients: 0,
    backTimes: [],
    gaps: [],
    neverBack: 0,
    neverClosed: 0,
    closedMoreThanOnce: 0,
    /** Outages still open at the end: back (or not) but no live message since. */
    noLiveMessage: 0,
    noMessageBeforeClose: 0,
    resumed: 0,
    attempts: 0,
    opens: 0,
    failedReported: 0,
    lost: 0,
    clientsWithLoss: 0,
    duplicates: 0,
    recoveries: 0,
    attemptTimes: storm.attemptTimes,
    closeTimes: storm.closeTimes,
    steadyLatency: storm.steady.toJSON(),
  };
  for (const r of records) {
    if (!r) continue;
    out.clients += 1;
    if (r.closes === 0) out.neverClosed += 1;
    if (r.closes > 1) out.closedMoreThanOnce += 1;
    if (isBack(r)) out.backTimes.push(r.backAt);
    else out.neverBack += 1;
    if (r.gap !== undefined) out.gaps.push(r.gap);
    if (r.episode) out.noLiveMessage += 1;
    out.noMessageBeforeClose += r.noMessageBeforeClose;
    if (r.resumed) out.resumed += 1;
    out.attempts += r.attempts;
    out.opens += r.opens;
    out.failedReported += r.failedReported;
    out.duplicates += r.duplicates;
    out.recoveries += r.recoveries;
    let missing = 0;
    for (const n of acked) if (!r.received[n]) missing += 1;
    out.lost += missing;
    if (missing > 0) out.clientsWithLoss += 1;
  }
  return out;
}
