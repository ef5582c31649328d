/**
 * The time series view's data: the stored `$lifeline.stats` history of the chosen window, turned into
 * bars (see `../../series.ts`). Every process sharing the store publishes there, so over Redis the
 * series covers every node.
 *
 * Bounded: the window's first snapshot is found by a binary search on the store time (about 14 reads
 * for 10,000 stored snapshots), then at most {@link MAX_SAMPLES} snapshots are read. A longer stretch
 * is sampled in evenly spaced runs of consecutive snapshots: the counters are cumulative, so the bars'
 * totals stay exact and only their timing gets coarser.
 * @packageDocumentation
 */
import type { ChannelPosition, Store, StoredMessage } from '../../../store/index.js';
import { DEFAULT_SERIES_WINDOW, SERIES_WINDOWS } from '../../console-api.js';
import { Series, sampleOf, type SeriesState } from '../../series.js';
import { STATS_CHANNEL, isStatsSnapshot } from '../../snapshot.js';
import { ConsoleRequestError } from '../http.js';
import type { ConsoleContext } from './context.js';

/** Snapshots one series request reads, at most. */
export const MAX_SAMPLES = 3000;
/** Consecutive snapshots per sampled run: enough to catch each of a few processes twice. */
const RUN = 8;
const BATCH = 500;

async function messageAfter(store: Store, head: ChannelPosition, offset: number): Promise<StoredMessage | undefined> {
  return (await store.read(STATS_CHANNEL, { epoch: head.epoch, offset }, 1)).messages[0];
}

/** The offset to read after so the first message is the first stored at or after `time` (roughly: store clock). */
async function offsetBefore(store: Store, head: ChannelPosition, time: number): Promise<number> {
  let lo = 0;
  let hi = head.offset;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const m = await messageAfter(store, head, mid);
    if (m === undefined) hi = mid;
    else if (m.time < time) lo = m.offset;
    else hi = mid;
  }
  return lo;
}

async function readRun(store: Store, head: ChannelPosition, after: number, count: number): Promise<readonly StoredMessage[]> {
  return (await store.read(STATS_CHANNEL, { epoch: head.epoch, offset: after }, count)).messages;
}

/**
 * `GET /_lifeline/api/series?window=5m` (1m, 5m, 15m, 1h, 6h, 24h).
 * @throws ConsoleRequestError 400 for another window; a store failure rejects (the route answers 503)
 */
export async function buildSeries(ctx: ConsoleContext, url: URL): Promise<SeriesState> {
  const key = url.searchParams.get('window') ?? DEFAULT_SERIES_WINDOW;
  const window = SERIES_WINDOWS.find((w) => w.key === key);
  if (!window) throw new ConsoleRequestError(400, 'bad_window', `window must be one of ${SERIES_WINDOWS.map((w) => w.key).join(', ')}`);
  const series = new Series(window);
  const store = ctx.server.store;
  const head = await store.head(STATS_CHANNEL);
  if (head.offset === 0) return series.toJSON();
  // One bar earlier than the window: each process's first snapshot there is the baseline of the next.
  const start = await offsetBefore(store, head, Date.now() - window.windowMs - window.bucketMs);
  const span = head.offset - start;
  const take = (messages: readonly StoredMessage[]): void => {
    for (const m of messages) if (isStatsSnapshot(m.data)) series.add(sampleOf(m.data));
  };
  if (span <= MAX_SAMPLES) {
    for (let after = start; after < head.offset; after += BATCH) take(await readRun(store, head, after, Math.min(BATCH, head.offset - after)));
  } else {
    const runs = Math.floor(MAX_SAMPLES / RUN);
    const step = span / runs;
    for (let i = 0; i < runs; i++) take(await readRun(store, head, start + Math.floor(i * step), RUN));
    // The newest run, so the series ends at the head.
    take(await readRun(store, head, head.offset - RUN, RUN));
  }
  return series.toJSON();
}
