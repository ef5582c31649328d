/**
 * What every console handler gets: the server, the dashboard's view of which connections are its own,
 * the name of this process, and a logger for the actions operators take.
 * @packageDocumentation
 */
import type { Logger } from 'pino';
import type { LifelineServer } from '../../../server/index.js';
import type { DashboardHooks } from '../hooks.js';

/** Shared by the console's handlers. */
export interface ConsoleContext {
  readonly server: LifelineServer;
  readonly hooks: DashboardHooks;
  /** `host:pid` of this process: lists and actions are per process. */
  readonly source: string;
  readonly logger: Logger;
}

/** Whether `text` contains `needle`, ignoring case (`needle` already lower-cased; '' matches all). */
export function contains(text: string | null | undefined, needle: string): boolean {
  return needle === '' || (text ?? '').toLowerCase().includes(needle);
}
