import type { Logger } from 'pino';
import { DashboardAccess } from '../dashboard/server/access.js';
import { DrainTracker } from '../dashboard/server/drain-tracker.js';
import { sourceName, startFeed } from '../dashboard/server/feed.js';
import { installHooks } from '../dashboard/server/hooks.js';
import { startIncidentLog } from '../dashboard/server/incident-log.js';
import { NodeSampler } from '../dashboard/server/node-metrics.js';
import { createDashboardRoute } from '../dashboard/server/routes.js';
import type { LifelineServer } from '../server/index.js';
import { UsageError } from './io.js';

/** What the dashboard needs from `lifeline serve`. */
export interface DashboardMount {
  readonly server: LifelineServer;
  readonly logger: Logger;
  /** `--demo`: no admin token needed, and the crash button is there. */
  readonly demo: boolean;
  /** The admin token (`--admin-token` / LIFELINE_ADMIN_TOKEN); undefined outside demo turns the dashboard off. */
  readonly adminToken: string | undefined;
}

/**
 * Mount the dashboard on a `lifeline serve` server: the page at `/` (and `/demo` with `--demo`), its
 * static files, the admin actions and the operator console's API, the `$lifeline.stats` feed the page
 * follows over a `lifeline.v1` connection (counters without the dashboards' own connections, this
 * process's vitals, the latest drain), and `$lifeline.incidents`, where every incident is stored for search. Only admin connections may subscribe to `$lifeline.*` (the admin cookie is checked at the
 * WebSocket handshake by the server's `authenticate` hook, which this wraps); nobody may publish there.
 * Returns a function that stops the feed (the routes stay).
 * @throws UsageError for an admin token shorter than 16 characters
 */
export function mountDashboard(mount: DashboardMount): () => void {
  const { server, logger, demo, adminToken } = mount;
  let access: DashboardAccess;
  try {
    access = new DashboardAccess({ demo, adminToken });
  } catch (error) {
    throw new UsageError(`--admin-token: ${(error as Error).message}`, { cause: error });
  }
  const hooks = installHooks(server, access);
  const source = sourceName();
  server.addRoute(createDashboardRoute({ server, logger, access, hooks, demo, source }));
  if (access.mode === 'off') {
    logger.debug('dashboard off: no --admin-token and no --demo');
    return () => hooks.dispose();
  }
  const sampler = new NodeSampler(server);
  const drains = new DrainTracker(server, (c) => hooks.isDashboardConnection(c));
  const stopFeed = startFeed(server, logger, {
    source,
    parts: () => {
      const drain = drains.current();
      return { dashboards: hooks.counts(), node: sampler.sample(), ...(drain ? { drain } : {}) };
    },
    // A second after the drain's end too: the last closes and the first resumes show up at once.
    draining: () => drains.active(1000),
  });
  const stopIncidents = startIncidentLog(server, logger, source);
  logger.info({ path: '/', access: access.mode, ...(demo ? { demoPage: '/demo' } : {}) }, 'dashboard mounted');
  return () => {
    stopFeed();
    stopIncidents();
    drains.dispose();
    sampler.stop();
    hooks.dispose();
  };
}
