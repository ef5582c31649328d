/**
 * The operator console's HTTP API: paths, bounds and the JSON shapes the server answers and the page
 * reads. Pure data; no Node APIs, so the browser code imports it too.
 *
 * Every list is paged and bounded: a page never holds more than its `MAX_*` rows, however many
 * connections, channels or incidents there are; the cursor in `next` fetches the following page.
 * @packageDocumentation
 */

/** Prefix of the console's read routes (admin only). */
export const API_PREFIX = '/_lifeline/api/';

/** Rows per page of the connections list, at most (and by default {@link DEFAULT_PAGE}). */
export const MAX_CONNECTIONS_PAGE = 100;
/** Rows per page of the channels list, at most. */
export const MAX_CHANNELS_PAGE = 100;
/** Messages of a channel's history per page, at most. */
export const MAX_HISTORY_PAGE = 50;
/** Incidents per page, at most. */
export const MAX_INCIDENTS_PAGE = 50;
/** Default page size of every list. */
export const DEFAULT_PAGE = 25;
/** Channels listed for one connection in a row (the inspector shows them all). */
export const ROW_CHANNELS = 10;
/** A stored message's data is shown up to this many characters of JSON. */
export const MAX_PREVIEW_CHARS = 2000;
/** Longest filter text accepted. */
export const MAX_QUERY_CHARS = 200;
/** Longest close reason an operator may type, in characters (it is then cut to 123 bytes of UTF-8). */
export const MAX_REASON_INPUT_CHARS = 500;

/** One open connection in the list. */
export interface ConnectionRow {
  readonly id: string;
  /** The identity `authenticate` returned, if any. */
  readonly user: string | null;
  readonly remote: string;
  /** The upgrade request's path, without its query (which may carry a client's secrets). */
  readonly path: string;
  /** `lifeline.v1`, or `''` for a plain WebSocket. */
  readonly protocol: string;
  /** The `lifeline.v1` session, once its hello was answered. */
  readonly session: string | null;
  /** The first {@link ROW_CHANNELS} channels; `channelCount` says how many there are. */
  readonly channels: readonly string[];
  readonly channelCount: number;
  /** Bytes waiting to be written to this peer. */
  readonly bufferedBytes: number;
  /** ms since the epoch. */
  readonly openedAt: number;
  readonly ageMs: number;
  readonly state: string;
  /** A dashboard's own connection (listed, but left out of the counts). */
  readonly dashboard: boolean;
}

/** A connection as the inspector shows it: the row, every channel, and a few request facts. */
export interface ConnectionDetail extends ConnectionRow {
  readonly origin: string | null;
  readonly userAgent: string | null;
  /** Names of the query parameters of the upgrade URL (values are never shown). */
  readonly queryKeys: readonly string[];
}

/** `GET /_lifeline/api/connections?q=&limit=&after=` */
export interface ConnectionsPage {
  /** Open connections on this process. */
  readonly total: number;
  /** Of them, how many match the filter. */
  readonly matched: number;
  readonly rows: readonly ConnectionRow[];
  /** Cursor for the next page, or null on the last one. */
  readonly next: string | null;
  /** The process that answered (`host:pid`): the list is per process. */
  readonly source: string;
}

/** One channel with subscribers on this process. */
export interface ChannelRow {
  readonly name: string;
  readonly subscribers: number;
  /** The channel's presence members (every process's, within their grace too), when the store keeps presence. */
  readonly presence: PresenceInfo;
  /** Under `$lifeline.`: the server's own (nobody publishes there). */
  readonly reserved: boolean;
}

/** `GET /_lifeline/api/channels?q=&limit=&after=` */
export interface ChannelsPage {
  /** Channels with subscribers on this process. */
  readonly total: number;
  readonly matched: number;
  readonly rows: readonly ChannelRow[];
  readonly next: string | null;
  readonly source: string;
}

/** One stored message of a channel, as the channel view shows it. */
export interface HistoryMessage {
  readonly offset: number;
  readonly time: number;
  /** The data as JSON, cut to {@link MAX_PREVIEW_CHARS} characters. */
  readonly preview: string;
  readonly truncated: boolean;
}

/** Presence of a channel: its members, or not available (the store keeps no presence, or did not answer). */
export type PresenceInfo = { readonly available: false } | { readonly available: true; readonly members: number };

/** `GET /_lifeline/api/channel?name=&before=&limit=` */
export interface ChannelDetail extends ChannelRow {
  readonly epoch: string;
  /** Newest offset (0: empty). */
  readonly head: number;
  /** Newest first. */
  readonly messages: readonly HistoryMessage[];
  /** Pass as `before` for older messages; null when there are none (or history was trimmed). */
  readonly next: number | null;
}

/** One incident in the incidents view. */
export interface IncidentRow {
  readonly id: string;
  readonly at: number;
  readonly connection: string;
  readonly handler: string;
  readonly summary: string;
  /** `host:pid`. */
  readonly source: string;
  /** Its offset on `$lifeline.incidents`. */
  readonly offset: number;
}

/** `GET /_lifeline/api/incidents?q=&before=&limit=` (or `?id=` for one). */
export interface IncidentsPage {
  /** Newest first. */
  readonly rows: readonly IncidentRow[];
  /** Pass as `before` to search older incidents; null when the history is exhausted. */
  readonly next: number | null;
  /** Incidents looked at by this request (a search stops after a bounded number). */
  readonly scanned: number;
}

/** A window the time series can be shown over. */
export interface SeriesWindow {
  readonly key: string;
  readonly windowMs: number;
  readonly bucketMs: number;
}

/** The windows offered, each in 30 bars. */
export const SERIES_WINDOWS: readonly SeriesWindow[] = [
  { key: '1m', windowMs: 60_000, bucketMs: 2_000 },
  { key: '5m', windowMs: 5 * 60_000, bucketMs: 10_000 },
  { key: '15m', windowMs: 15 * 60_000, bucketMs: 30_000 },
  { key: '1h', windowMs: 60 * 60_000, bucketMs: 2 * 60_000 },
  { key: '6h', windowMs: 6 * 60 * 60_000, bucketMs: 12 * 60_000 },
  { key: '24h', windowMs: 24 * 60 * 60_000, bucketMs: 48 * 60_000 },
];

/** The window shown first. */
export const DEFAULT_SERIES_WINDOW = '5m';

/** Body of `POST /admin/disconnect`. */
export interface DisconnectRequest {
  readonly connection: string;
  readonly code: number;
  readonly reason?: string;
}

/** Answer of `POST /admin/disconnect`. */
export interface DisconnectResult {
  readonly connection: string;
  readonly code: number;
  /** The reason as sent: cut to 123 bytes of UTF-8 on a character boundary. */
  readonly reason: string;
  readonly truncated: boolean;
}

/** Body of `POST /admin/publish`. */
export interface PublishRequest {
  readonly channel: string;
  readonly data: unknown;
  /** Makes a repeated click store the message once. */
  readonly idempotencyKey?: string;
}

/** Answer of `POST /admin/publish`. */
export interface PublishResult {
  readonly channel: string;
  readonly epoch: string;
  readonly offset: number;
  readonly duplicate: boolean;
}

/** Channel names the protocol accepts: 1-200 printable ASCII characters. */
export function isChannelName(value: unknown): value is string {
  return typeof value === 'string' && /^[\x21-\x7e]{1,200}$/.test(value);
}
