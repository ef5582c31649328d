/**
 * `lifeline/client`: a WebSocket client that survives failures and deploys. It reads every close
 * code through the shared registry and acts on it: reconnect soon after a restart (1012), back off
 * after a failure (1006, 1011, 1013, 1014), stop with a diagnosis when retrying cannot help.
 *
 * Isomorphic: imports nothing from Node. Browsers use their `WebSocket`; Node 20 loads `ws` lazily.
 *
 * The public surface: the factories, the classes they return, the defaults, the option, event and
 * info types, the error classes, and `parseReason` for reading close reasons. Everything else in this
 * folder (the reconnect policy, the delay math, the session's parts) is internal and may change.
 * @packageDocumentation
 */
export { LifelineClient, createClient } from './client.js';
export type { ClientEvents, ClientState, MessageData } from './client.js';
export type { CloseInfo } from './close-plan.js';
export { LifelineSession, createSession } from './session.js';
export { SESSION_DEFAULTS } from './session-options.js';
export type { SessionOptions } from './session-options.js';
export type {
  PresenceEvent,
  PresenceMember,
  PresencePage,
  PresenceQuery,
  PublishResult,
  RecoveryInfo,
  SessionEvents,
  SessionMessage,
  SubscribeOptions,
  SubscribedInfo,
  WelcomeInfo,
} from './session-types.js';
export type { PresenceRequest } from '../protocol/frames.js';
export type { Json, Position } from '../protocol/frames.js';
export { ProtocolErrorCode } from '../protocol/frames.js';
export { CLIENT_DEFAULTS } from './options.js';
export type { ClientOptions, UrlContext } from './options.js';
export type { ClientEnvironment, Clock, CloseEventLike, HandshakeRefusal, MessageEventLike, WebSocketConstructor, WebSocketLike } from './environment.js';
export type { Listener, Unsubscribe } from '../util/emitter.js';
export { DEFAULT_BACKOFF, DEFAULT_HINT_LIMITS, DEFAULT_SOON } from './backoff.js';
export type { BackoffOptions, DelayWindow, RandomSource } from './backoff.js';
export type { ActionClass, ApplicationCodes, Explainer, PolicyDecision, PolicyFunction } from './policy.js';
export {
  ClientClosedError,
  ConnectError,
  CredentialsError,
  DeclinedError,
  DeadLinkError,
  ListenerError,
  NotOpenError,
  PolicyError,
  QueueFullError,
  RejectedError,
  ServerError,
  ServerFrameError,
  SocketError,
  SubprotocolError,
  UrlError,
  WebSocketUnavailableError,
} from './errors.js';
export { LifelineError } from '../errors.js';
export type { LifelineErrorCode } from '../errors.js';
export { parseReason } from '../protocol/close-reason.js';
export type { ReasonFields, RetryHint } from '../protocol/close-reason.js';
