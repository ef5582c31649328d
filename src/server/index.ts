/**
 * `lifeline/server`: a WebSocket server whose failures close with 1011 and an incident id,
 * and whose planned restarts drain with 1012 and a reconnect hint.
 *
 * `createServer` runs on Node's HTTP server and `ws`; `createServerCore` is the same server without a
 * transport, for one of your own (see {@link TransportSocket}). Prometheus metrics are their own entry,
 * `lifeline/server/metrics`, so this one never loads prom-client.
 * @packageDocumentation
 */
export { createServer, LifelineServer } from './server.js';
export type { AttachOptions, InheritedSocket } from './server.js';
export { createServerCore, ServerCore } from './core/server-core.js';
export type { PresenceEvent, PresenceQuery, ServerCoreOptions, ServerEvents, ServerState, ShutdownOptions, SocketSource } from './core/server-core.js';
export type { Incident } from './core/error-boundary.js';
export type { ServerStats } from './core/stats.js';
export type { Admitted, Refusal, RefusalReason, UpgradePeer, Verdict } from './core/admission.js';
export type { Clock } from './core/clock.js';
export type { Logger, LogMethod } from './core/logger.js';
export { Connection } from './core/connection.js';
export type { ClosedBy, ConnectionState, OutputMeter, UnsentReason } from './core/connection.js';
export { CloseError, DeclinedError, HandlerFailure, InvalidPayloadError, PolicyViolationError, PresenceUnavailableError, UnsupportedDataError } from './errors.js';
export { LifelineError } from '../errors.js';
export type { LifelineErrorCode } from '../errors.js';
export type { AuthenticateHook, ChannelHook, HookPoint, ServerExtension } from './core/extensions.js';
export type { Authenticate, AuthResult, RateLimit, CloseHandler, ConnectionHandler, MessageHandler, ServerOptions, ShutdownCode } from './core/options.js';
export { handleSignals } from './node/signals.js';
export type { SignalOptions } from './node/signals.js';
export { forgetSocketActivation, inheritedSocket } from './node/socket-activation.js';
export type { TransportEvents, TransportSocket, UpgradeInfo } from './core/transport.js';
export type { ChannelAuthorizer, ProtocolCount, SessionMessageContext, SessionMessageHandler } from './v1/protocol-session.js';
export type { PresenceCounters } from './v1/presence.js';
export type { PresenceMember, PresencePage } from '../store/types.js';
