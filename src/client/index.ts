/**
 * `lifeline/client`: a WebSocket client that survives failures and deploys. It reads every close
 * code through the shared registry and acts on it: reconnect soon after a restart (1012), back off
 * after a failure (1006, 1011, 1013, 1014), stop with a diagnosis when retrying cannot help.
 *
 * Isomorphic: imports nothing from Node. Browsers use their `WebSocket`; Node 20 loads `ws` lazily.
 * @packageDocumentation
 */
export { LifelineClient, createClient } from './client.js';
export type { ClientEvents, ClientState, CloseInfo, MessageData } from './client.js';
export { LifelineSession, SESSION_DEFAULTS, createSession } from './session.js';
export type {
  PublishResult,
  RecoveryInfo,
  SessionEvents,
  SessionMessage,
  SessionOptions,
  SubscribeOptions,
  SubscribedInfo,
  WelcomeInfo,
} from './session.js';
export type { Json, Position } from '../protocol/frames.js';
export { ErrorCode } from '../protocol/frames.js';
export { CLIENT_DEFAULTS } from './options.js';
export type { ClientOptions, UrlContext } from './options.js';
export type { ClientEnvironment, Clock, CloseEventLike, HandshakeRefusal, MessageEventLike, WebSocketConstructor, WebSocketLike } from './environment.js';
export { parseRetryAfter } from './environment.js';
export { ReadyState } from './environment.js';
export type { Listener, Unsubscribe } from './events.js';
export {
  DEFAULT_BACKOFF,
  DEFAULT_HINT_LIMITS,
  DEFAULT_SOON,
  backoffCeiling,
  backoffDelay,
  clampWindow,
  uniformDelay,
} from './backoff.js';
export type { BackoffOptions, DelayWindow, RandomSource } from './backoff.js';
export { analyzeClose, decide, diagnose } from './policy.js';
export type {
  ActionClass,
  ApplicationCodes,
  CloseFacts,
  Decision,
  Explainer,
  PolicyConfig,
  PolicyDecision,
  PolicyFunction,
  ReconnectReason,
} from './policy.js';
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
export { parseReason } from '../protocol/close-reason.js';
export type { ReasonFields, RetryHint } from '../protocol/close-reason.js';
