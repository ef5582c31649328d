/**
 * The channels view: channels with subscribers on this process (filtered, paged) with their presence counts, one channel's
 * recent history (paged backwards), and publishing from the UI through `server.publish` — never to the
 * server's own `$lifeline.*` channels.
 * @packageDocumentation
 */
import type { Json } from '../../../protocol/index.js';
import type { AppendResult, StoredMessage } from '../../../store/index.js';
import {
  DEFAULT_PAGE,
  MAX_CHANNELS_PAGE,
  MAX_HISTORY_PAGE,
  MAX_PREVIEW_CHARS,
  MAX_QUERY_CHARS,
  isChannelName,
  type ChannelDetail,
  type ChannelRow,
  type ChannelsPage,
  type HistoryMessage,
  type PresenceInfo,
  type PublishResult,
} from '../../console-api.js';
import { RESERVED_PREFIX } from '../../snapshot.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH, validIdempotencyKey } from '../../../server/node/publish-route.js';
import { ConsoleRequestError, intParam, textParam } from '../http.js';
import { contains, type ConsoleContext } from './context.js';

/** A channel's row: its subscribers here, and its presence members (one count from the store). */
async function rowOf(ctx: ConsoleContext, name: string, subscribers: number): Promise<ChannelRow> {
  return { name, subscribers, presence: await presenceOf(ctx, name), reserved: name.startsWith(RESERVED_PREFIX) };
}

/** The channel's presence members; not available when the store keeps none or does not answer (the rest of the view still shows). */
async function presenceOf(ctx: ConsoleContext, name: string): Promise<PresenceInfo> {
  if (!ctx.server.hasPresence) return { available: false };
  try {
    return { available: true, members: await ctx.server.presenceCount(name) };
  } catch {
    return { available: false };
  }
}

/**
 * `GET /_lifeline/api/channels?q=&limit=&after=`: channels in name order; `after` is the previous page's `next`.
 * @throws ConsoleRequestError 400 for a bad parameter
 */
export async function listChannels(ctx: ConsoleContext, url: URL): Promise<ChannelsPage> {
  const needle = textParam(url, 'q', MAX_QUERY_CHARS).trim().toLowerCase();
  const limit = intParam(url, 'limit', DEFAULT_PAGE, 1, MAX_CHANNELS_PAGE);
  const after = textParam(url, 'after', 200);
  let total = 0;
  const found: [string, number][] = [];
  for (const [name, n] of ctx.server.subscriberCounts()) {
    total += 1;
    if (contains(name, needle)) found.push([name, n]);
  }
  found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const from = after === '' ? 0 : found.findIndex(([name]) => name > after);
  const page = from === -1 ? [] : found.slice(from, from + limit);
  const more = from !== -1 && from + limit < found.length;
  const rows = await Promise.all(page.map(([name, n]) => rowOf(ctx, name, n)));
  return { total, matched: found.length, rows, next: more ? page.at(-1)![0] : null, source: ctx.source };
}

function preview(m: StoredMessage): HistoryMessage {
  const json = JSON.stringify(m.data) ?? 'null';
  const truncated = json.length > MAX_PREVIEW_CHARS;
  return { offset: m.offset, time: m.time, preview: truncated ? json.slice(0, MAX_PREVIEW_CHARS) : json, truncated };
}

function channelParam(url: URL): string {
  const name = url.searchParams.get('name');
  if (!isChannelName(name)) throw new ConsoleRequestError(400, 'bad_channel', 'name must be a channel: 1-200 printable ASCII characters');
  return name;
}

/**
 * `GET /_lifeline/api/channel?name=&before=&limit=`: subscribers here, presence members, and
 * the newest stored messages before offset `before` (default: the newest), newest first.
 * @throws ConsoleRequestError 400 for a bad parameter; a store failure rejects (the route answers 503)
 */
export async function channelDetail(ctx: ConsoleContext, url: URL): Promise<ChannelDetail> {
  const name = channelParam(url);
  const limit = intParam(url, 'limit', DEFAULT_PAGE, 1, MAX_HISTORY_PAGE);
  const head = await ctx.server.store.head(name);
  const before = intParam(url, 'before', head.offset + 1, 1, head.offset + 1);
  const from = Math.max(0, before - 1 - limit);
  const read = before > 1 ? await ctx.server.store.read(name, { epoch: head.epoch, offset: from }, before - 1 - from) : undefined;
  const messages = (read?.messages ?? []).filter((m) => m.offset < before).reverse();
  const oldest = messages.at(-1)?.offset;
  // Trimmed history (complete: false) has nothing older to page to.
  const next = read?.complete === true && oldest !== undefined && oldest > 1 ? oldest : null;
  let subscribers = 0;
  for (const [channel, n] of ctx.server.subscriberCounts()) if (channel === name) subscribers = n;
  return { ...(await rowOf(ctx, name, subscribers)), epoch: head.epoch, head: head.offset, messages: messages.map(preview), next };
}

/**
 * `POST /admin/publish` with `{channel, data, idempotencyKey?}`: stored, then delivered, like any publish.
 * @throws ConsoleRequestError 400 for a bad body, 403 for a `$lifeline.*` channel; a store failure rejects (503)
 */
export async function publishFromConsole(ctx: ConsoleContext, body: Record<string, unknown>, remote: string | undefined): Promise<PublishResult> {
  const { channel, idempotencyKey } = body;
  if (!isChannelName(channel)) throw new ConsoleRequestError(400, 'bad_channel', 'channel must be 1-200 printable ASCII characters');
  if (channel.startsWith(RESERVED_PREFIX)) throw new ConsoleRequestError(403, 'reserved_channel', `channels under ${RESERVED_PREFIX} belong to the server`);
  if (!('data' in body)) throw new ConsoleRequestError(400, 'bad_request', 'data is required');
  if (idempotencyKey !== undefined && !validIdempotencyKey(idempotencyKey)) {
    throw new ConsoleRequestError(400, 'bad_idempotency_key', `idempotencyKey must be a string of 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
  // Its own key space: a console click can never collide with an HTTP or client publish's key.
  const result: AppendResult = await ctx.server.publish(channel, body.data as Json, idempotencyKey === undefined ? {} : { idempotencyKey: `d:${idempotencyKey}` });
  ctx.logger.info({ channel, offset: result.message.offset, duplicate: result.duplicate, remote }, 'published from the dashboard');
  return { channel, epoch: result.message.epoch, offset: result.message.offset, duplicate: result.duplicate };
}
