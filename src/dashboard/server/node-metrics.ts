/**
 * This process as the nodes view shows it: memory, event-loop delay and CPU, measured over the interval
 * since the previous sample (so each snapshot says how the last second went, not the process's life).
 * @packageDocumentation
 */
import { hostname } from 'node:os';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { LifelineServer } from '../../server/index.js';
import type { NodeInfo } from '../snapshot.js';

/**
 * The event-loop monitor's timer period, ms. Lag below it does not matter to an operator, and the timer
 * costs next to nothing. The monitor records whole periods (an idle loop reads about this much), so it is
 * taken off every reading.
 */
const RESOLUTION_MS = 10;

/** Samples {@link NodeInfo} for one server; call `stop()` to release the event-loop monitor. */
export class NodeSampler {
  readonly #server: LifelineServer;
  readonly #delay: IntervalHistogram;
  #cpu = process.cpuUsage();
  #at = performance.now();

  constructor(server: LifelineServer) {
    this.#server = server;
    this.#delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.#delay.enable();
  }

  /** Measure now; the next sample covers the time from here. */
  sample(): NodeInfo {
    const now = performance.now();
    const cpu = process.cpuUsage(this.#cpu);
    const elapsedMs = Math.max(1, now - this.#at);
    this.#cpu = process.cpuUsage();
    this.#at = now;
    // The histogram's values are in ns; with no sample yet it reports NaN (mean) and 0 (max).
    const lag = (ns: number): number => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - RESOLUTION_MS) : 0);
    const mean = lag(this.#delay.mean);
    const max = lag(this.#delay.max);
    this.#delay.reset();
    const server = this.#server;
    return {
      pid: process.pid,
      host: hostname(),
      state: server.state,
      ready: server.ready,
      connections: server.connections.size,
      rssBytes: process.memoryUsage.rss(),
      eventLoopLagMs: { mean: round(mean), max: round(max) },
      cpuPercent: round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 100),
      uptimeMs: Math.round(process.uptime() * 1000),
      store: server.store.kind,
    };
  }

  /** Stop the event-loop monitor. */
  stop(): void {
    this.#delay.disable();
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
