/**
 * What every view of the page reads: the language, the server's info, and the latest snapshot of each
 * process. One object, filled by `app.ts`.
 * @packageDocumentation
 */
import type { Lang } from '../../codes/index.js';
import type { DashboardInfo, StatsSnapshot } from '../snapshot.js';
import { initialLang } from './i18n.js';

/** A process whose last snapshot is older than this (relative to the newest) is not counted, ms. */
export const STALE_MS = 5000;
/** A silent process stays in the nodes view, marked, for this long, ms. */
export const FORGET_MS = 60_000;

/** The page's shared state. */
export const page: {
  lang: Lang;
  info: DashboardInfo | undefined;
  /** The latest snapshot of each process (`host:pid`). */
  readonly latest: Map<string, StatsSnapshot>;
  /** Server clock minus browser clock, from the newest snapshot. */
  skewMs: number;
} = { lang: initialLang(), info: undefined, latest: new Map(), skewMs: 0 };

/** The server's clock now (as far as the snapshots tell). */
export function serverNow(): number {
  return Date.now() + page.skewMs;
}

/** The newest snapshot time of any process (0 before the first). */
function newest(): number {
  return Math.max(0, ...[...page.latest.values()].map((s) => s.at));
}

/** The processes still reporting. */
export function current(): StatsSnapshot[] {
  const edge = newest() - STALE_MS;
  return [...page.latest.values()].filter((s) => s.at >= edge);
}

/** Every process heard from in the last {@link FORGET_MS}, with whether it went quiet. */
export function known(): { snapshot: StatsSnapshot; stale: boolean }[] {
  const top = newest();
  return [...page.latest.values()].filter((s) => s.at >= top - FORGET_MS).map((snapshot) => ({ snapshot, stale: snapshot.at < top - STALE_MS }));
}
