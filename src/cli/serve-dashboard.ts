import type { Logger } from 'pino';
import type { LifelineServer } from '../server/index.js';

/** What the dashboard needs from `lifeline serve`. */
export interface DashboardMount {
  readonly server: LifelineServer;
  readonly logger: Logger;
  /** `--demo`: no admin token needed, and the crash button is there. */
  readonly demo: boolean;
  /** The admin token (`--admin-token` / LIFELINE_ADMIN_TOKEN); undefined outside demo turns the dashboard off. */
  readonly adminToken: string | undefined;
}

/** Mount the dashboard on a `lifeline serve` server. Placeholder: mounts nothing. */
export function mountDashboard(_mount: DashboardMount): void {}
