/**
 * `lifeline/server`: a WebSocket server whose failures close with 1011 and an incident id,
 * and whose planned restarts drain with 1012 and a reconnect hint.
 * @packageDocumentation
 */
export { createServer, LifelineServer } from './server.js';
export type { AttachOptions, Incident, ServerEvents, ServerState, ServerStats, ShutdownOptions } from './server.js';
export { Connection } from './connection.js';
export type { ClosedBy, ConnectionState } from './connection.js';
export { CloseError, DeclinedError, HandlerFailure, InvalidPayloadError, PolicyViolationError, ServerClosedError, UnsupportedDataError } from './errors.js';
export type { Authenticate, AuthResult, RateLimit, CloseHandler, ConnectionHandler, MessageHandler, ServerOptions, ShutdownCode } from './options.js';
export { SERVER_DEFAULTS } from './options.js';
export { handleSignals } from './signals.js';
export type { SignalOptions } from './signals.js';
export type { TransportEvents, TransportSocket, UpgradeInfo } from './transport.js';
export { drainOffsets } from './drain-schedule.js';
export type { ChannelAuthorizer, SessionMessageContext, SessionMessageHandler } from './protocol-session.js';
export { keyMatches } from './publish-http.js';
export { closeCodeLabel, createMetrics, createStoreLatencyHistogram } from './metrics.js';
export type { LifelineMetrics, MetricsOptions, StoreLatencyOptions } from './metrics.js';
export { instrumentStore, STORE_OPERATIONS } from './instrument-store.js';
export type { StoreLatencyLabel, StoreOperation } from './instrument-store.js';
