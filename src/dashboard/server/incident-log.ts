/**
 * Every 1011 incident is published on `$lifeline.incidents` as it happens, so the incidents view can
 * search further back than the 50 a process keeps in memory: the channel is stored like any other
 * (bounded by the store's history limits, durable with sqlite, shared by every node with Redis) and,
 * being under `$lifeline.`, readable by admins only.
 * @packageDocumentation
 */
import type { Logger } from 'pino';
import type { Json } from '../../protocol/index.js';
import type { LifelineServer } from '../../server/index.js';
import { INCIDENTS_CHANNEL, type LoggedIncident } from '../snapshot.js';

/** Publish each incident of `server` until it stops (a failed publish is logged, never thrown); returns the stop function. */
export function startIncidentLog(server: LifelineServer, logger: Logger, source: string): () => void {
  const offIncident = server.on('incident', ({ id, at, connection, handler, summary }) => {
    const entry: LoggedIncident = { v: 1, id, at, connection, handler, summary, source };
    server.publish(INCIDENTS_CHANNEL, entry as unknown as Json).catch((error: unknown) => {
      // The incident is in the log and in the snapshots either way; only the searchable copy is missing.
      logger.warn({ incident: id, channel: INCIDENTS_CHANNEL, err: error }, 'dashboard: incident not stored for search');
    });
  });
  const offState = server.on('state', (state) => {
    if (state === 'stopped') stop();
  });
  const stop = (): void => {
    offIncident();
    offState();
  };
  return stop;
}
