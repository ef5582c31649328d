/**
 * Hooks that several extensions can share (the dashboard, an audit log, a rate limiter of the
 * application's own …), without wrapping the application's options or each other.
 *
 * A closed list of hook points — `authenticate`, `authorizeSubscribe`, `authorizePublish`,
 * `authorizeReserved` — each a chain: the extensions' hooks in the order they were added (`server.use`),
 * then the application's option of the same name, read live, so a configuration reload replaces the
 * application's hook and leaves the extensions' in place. A hook decides by returning, or hands the call
 * to the rest of the chain with `next()` (and may look at or change what comes back, as the dashboard
 * does to keep anyone else from taking its admin identity). Where the chain ends with no application
 * hook, the server's own default answers: admit anonymously; subscribe allowed; publish refused;
 * reserved channels refused.
 *
 * Without extensions nothing changes: the effective settings are the application's, the same objects.
 * @packageDocumentation
 */
import type { Json } from '../../protocol/index.js';
import type { ChannelAuthorizer } from '../v1/protocol-session.js';
import type { Connection } from './connection.js';
import type { Authenticate, AuthResult, ResolvedServerOptions } from './options.js';
import type { UpgradeInfo } from './transport.js';

/** An extension's admission hook: decide, or `return next()` to let the rest of the chain decide. */
export type AuthenticateHook = (request: UpgradeInfo, credentials: Json | undefined, next: () => Promise<AuthResult>) => AuthResult | Promise<AuthResult>;

/** An extension's channel hook: decide, or `return next()` to let the rest of the chain decide. */
export type ChannelHook = (connection: Connection, channel: string, next: () => Promise<boolean>) => boolean | Promise<boolean>;

/** What {@link ServerExtension} may hook, in the order a connection meets them. */
export const HOOK_POINTS = ['authenticate', 'authorizeSubscribe', 'authorizePublish', 'authorizeReserved'] as const;

/** One of {@link HOOK_POINTS}. */
export type HookPoint = (typeof HOOK_POINTS)[number];

/** An extension of the server: a name (for logs and errors) and the hooks it adds. */
export interface ServerExtension {
  /** Who added it, e.g. `lifeline-dashboard`. */
  readonly name: string;
  /** Admission: the upgrade's facts and, for `hello.auth`/`auth` frames, the credentials. */
  readonly authenticate?: AuthenticateHook;
  /** May this connection subscribe to (and query the presence of) this ordinary channel? */
  readonly authorizeSubscribe?: ChannelHook;
  /** May this connection publish (`pub`) to this ordinary channel? */
  readonly authorizePublish?: ChannelHook;
  /** May this connection read this `$lifeline.*` channel (the server's own feeds)? */
  readonly authorizeReserved?: ChannelHook;
}

/** The answer where a chain ends with no application hook (the server's defaults). */
const DEFAULT_CHANNEL: Record<Exclude<HookPoint, 'authenticate'>, boolean> = { authorizeSubscribe: true, authorizePublish: false, authorizeReserved: false };

/**
 * Check an extension on entry (a typo in a hook's name would otherwise be ignored).
 * @throws TypeError for a missing name, an unknown member or a hook that is not a function
 */
export function checkExtension(extension: ServerExtension): void {
  if (typeof extension !== 'object' || extension === null) throw new TypeError('server.use: an extension is an object');
  if (typeof extension.name !== 'string' || extension.name === '') throw new TypeError('server.use: an extension needs a name');
  for (const [key, value] of Object.entries(extension)) {
    if (key === 'name') continue;
    if (!(HOOK_POINTS as readonly string[]).includes(key)) throw new TypeError(`server.use(${extension.name}): unknown hook "${key}" (hooks: ${HOOK_POINTS.join(', ')})`);
    if (typeof value !== 'function') throw new TypeError(`server.use(${extension.name}): ${key} must be a function`);
  }
}

/**
 * The settings the server acts on: the application's, with each hook point that extensions use replaced
 * by its chain. `options` is read when a chain reaches its end, through `current`, so a reload counts.
 */
export function withExtensions(options: ResolvedServerOptions, extensions: readonly ServerExtension[], current: () => ResolvedServerOptions): ResolvedServerOptions {
  if (extensions.length === 0) return options;
  const authenticate = chainAuthenticate(extensions.flatMap((e) => (e.authenticate ? [e.authenticate] : [])), current);
  const channel = (point: Exclude<HookPoint, 'authenticate'>): ChannelAuthorizer | undefined =>
    chainChannel(extensions.flatMap((e) => (e[point] ? [e[point]] : [])), point, current);
  return {
    ...options,
    ...(authenticate ? { authenticate } : {}),
    ...optional('authorizeSubscribe', channel('authorizeSubscribe')),
    ...optional('authorizePublish', channel('authorizePublish')),
    ...optional('authorizeReserved', channel('authorizeReserved')),
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function chainAuthenticate(hooks: readonly AuthenticateHook[], current: () => ResolvedServerOptions): Authenticate | undefined {
  if (hooks.length === 0) return undefined;
  const run = (i: number, request: UpgradeInfo, credentials: Json | undefined): Promise<AuthResult> => {
    const hook = hooks[i];
    if (hook === undefined) {
      const application = current().authenticate;
      return Promise.resolve(application ? application(request, credentials) : true);
    }
    return Promise.resolve(hook(request, credentials, () => run(i + 1, request, credentials)));
  };
  return (request, credentials) => run(0, request, credentials);
}

function chainChannel(hooks: readonly ChannelHook[], point: Exclude<HookPoint, 'authenticate'>, current: () => ResolvedServerOptions): ChannelAuthorizer | undefined {
  if (hooks.length === 0) return undefined;
  const run = (i: number, connection: Connection, channel: string): Promise<boolean> => {
    const hook = hooks[i];
    if (hook === undefined) {
      const application = current()[point];
      return Promise.resolve(application ? application(connection, channel) : DEFAULT_CHANNEL[point]).then((allowed) => allowed === true);
    }
    return Promise.resolve(hook(connection, channel, () => run(i + 1, connection, channel))).then((allowed) => allowed === true);
  };
  return (connection, channel) => run(0, connection, channel);
}
