/**
 * The incidents view's search: newest first over `$lifeline.incidents` (every incident of every node
 * sharing the store, as far back as its history limits keep), paged backwards by offset.
 *
 * A request reads at most {@link MAX_SCAN} stored incidents (a search for one id reads up to
 * {@link MAX_ID_SCAN}), so a rare match costs a bounded amount per page; `next` continues from where
 * it stopped.
 * @packageDocumentation
 */
import { DEFAULT_PAGE, MAX_INCIDENTS_PAGE, MAX_QUERY_CHARS, type IncidentRow, type IncidentsPage } from '../../console-api.js';
import { INCIDENTS_CHANNEL } from '../../snapshot.js';
import { ConsoleRequestError, intParam, textParam } from '../http.js';
import { contains, type ConsoleContext } from './context.js';

/** Stored incidents one search request reads, at most. */
export const MAX_SCAN = 2000;
/** Stored incidents a look-up by id reads, at most (a permalink should find old ones too). */
export const MAX_ID_SCAN = 20_000;
const BATCH = 200;
const INCIDENT_ID = /^inc_[0-9a-f]{1,32}$/;

function rowOf(data: unknown, offset: number): IncidentRow | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const d = data as Record<string, unknown>;
  if (d.v !== 1 || typeof d.id !== 'string' || typeof d.at !== 'number' || typeof d.summary !== 'string') return undefined;
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  return { id: d.id, at: d.at, connection: text(d.connection), handler: text(d.handler), summary: d.summary, source: text(d.source), offset };
}

/**
 * `GET /_lifeline/api/incidents?q=&before=&limit=` or `?id=inc_…`.
 * @throws ConsoleRequestError 400 for a bad parameter; a store failure rejects (the route answers 503)
 */
export async function searchIncidents(ctx: ConsoleContext, url: URL): Promise<IncidentsPage> {
  const id = textParam(url, 'id', 40);
  if (id !== '' && !INCIDENT_ID.test(id)) throw new ConsoleRequestError(400, 'bad_parameter', 'id must be an incident id (inc_ and hex digits)');
  const needle = textParam(url, 'q', MAX_QUERY_CHARS).trim().toLowerCase();
  const limit = id !== '' ? 1 : intParam(url, 'limit', DEFAULT_PAGE, 1, MAX_INCIDENTS_PAGE);
  const store = ctx.server.store;
  const head = await store.head(INCIDENTS_CHANNEL);
  let end = intParam(url, 'before', head.offset + 1, 1, head.offset + 1) - 1;
  const budget = id !== '' ? MAX_ID_SCAN : MAX_SCAN;
  const rows: IncidentRow[] = [];
  let scanned = 0;
  // Set when nothing older is left to read.
  let done = end <= 0;
  while (!done && rows.length < limit && scanned < budget) {
    const from = Math.max(0, end - BATCH);
    const read = await store.read(INCIDENTS_CHANNEL, { epoch: head.epoch, offset: from }, end - from);
    const batch = read.messages.filter((m) => m.offset <= end).reverse();
    let consumed = 0;
    for (const m of batch) {
      if (rows.length >= limit || scanned >= budget) break;
      scanned += 1;
      consumed += 1;
      end = m.offset - 1;
      const row = rowOf(m.data, m.offset);
      if (row && (id !== '' ? row.id === id : [row.id, row.connection, row.handler, row.summary, row.source].some((t) => contains(t, needle)))) rows.push(row);
    }
    // Trimmed history (complete: false) has nothing before what it returned; an empty read, nothing at all.
    if (consumed === batch.length && (!read.complete || batch.length === 0)) done = true;
    if (end <= 0) done = true;
  }
  const next = done ? null : end + 1;
  return { rows, next, scanned };
}
