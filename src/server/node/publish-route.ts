/**
 * `POST /publish`: backends publish over HTTP. Bearer API key (compared in constant time), JSON body
 * `{"channel": "...", "data": <any JSON>, "idempotencyKey"?: "..."}` (or an `Idempotency-Key` header).
 * Answered only once the message is stored, so a 200 means durable; a retry with the same key is
 * stored once and answered with the first message's offset and `duplicate: true`.
 * @packageDocumentation
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Json } from '../../protocol/index.js';
import { MAX_CHANNEL_LENGTH } from '../../protocol/index.js';
import { IdempotencyConflictError, StoreOutcomeUnknownError } from '../../store/errors.js';
import type { AppendResult } from '../../store/types.js';
import { codePointLength } from '../../protocol/text.js';
import { bearerToken, decodeUtf8, sendJson } from './http.js';

/** What the route needs from the server. */
export interface PublishRoute {
  /** The API key; undefined turns the route off (403). */
  readonly key: string | undefined;
  /** Largest accepted body, bytes. */
  readonly maxBytes: number;
  publish(channel: string, data: Json, idempotencyKey?: string): Promise<AppendResult>;
  /** A store failure (unavailable, or an outcome unknown). */
  onStoreError(error: unknown): void;
  /** A publish whose outcome is unknown was answered as such. */
  onOutcomeUnknown(): void;
}

const CHANNEL = /^[\x21-\x7e]+$/;

/** Longest idempotency key, in code points (what docs/protocol.md counts in). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

const BAD_KEY = `idempotencyKey must be a string of 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters`;

/** Whether `key` is an idempotency key the protocol allows (1-200 code points); the dashboard's console publish holds its keys to the same. */
export function validIdempotencyKey(key: unknown): key is string {
  return typeof key === 'string' && key !== '' && codePointLength(key) <= MAX_IDEMPOTENCY_KEY_LENGTH;
}

/**
 * The request's idempotency key, from the body's `idempotencyKey` and the `Idempotency-Key` header:
 * undefined when neither is there, an error message when one that is there is not a 1-200 code point
 * string (`null` included: a key the client meant to send must not turn into "no key", which would make a
 * retry store twice), or when both are there and differ (picking one would dedupe on a key the client
 * may not have meant).
 */
function idempotencyKeyOf(body: Record<string, unknown>, header: string | string[] | undefined): { key: string | undefined } | { error: string } {
  const inBody = Object.hasOwn(body, 'idempotencyKey');
  if (inBody && !validIdempotencyKey(body.idempotencyKey)) return { error: BAD_KEY };
  let fromHeader: string | undefined;
  if (header !== undefined) {
    // Node reads header bytes as latin1; the key is UTF-8 text, as in the body, so both name the same key.
    fromHeader = typeof header === 'string' ? decodeUtf8(Buffer.from(header, 'latin1')) : undefined;
    if (!validIdempotencyKey(fromHeader)) return { error: `the Idempotency-Key header must be 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters of UTF-8` };
  }
  const fromBody = inBody ? (body.idempotencyKey as string) : undefined;
  if (fromBody !== undefined && fromHeader !== undefined && fromBody !== fromHeader) {
    return { error: 'idempotencyKey and the Idempotency-Key header differ; send one, or the same in both' };
  }
  return { key: fromBody ?? fromHeader };
}

/** Constant-time comparison of a presented key with the configured one (hashes equalise lengths). */
export function keyMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * The body, or 'too-large' as soon as more than `maxBytes` arrived. Stops collecting then without
 * destroying the request (a `for await` left early would destroy it, and the socket with it, before the
 * 413 could be written); the answer's `Connection: close` ends the connection.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= maxBytes) chunks.push(chunk);
      else {
        done();
        resolve('too-large');
      }
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onClose = () => {
      done();
      reject(new Error('the request ended before its body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** The declared `Content-Length`, if there is a valid one. */
function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined || !/^\d{1,16}$/.test(header)) return undefined;
  return Number(header);
}

/**
 * Answer before the body was read (or all of it): with `Connection: close`, so Node closes the socket once
 * the answer is out instead of reading the rest of an unwanted body to keep the connection (a body that
 * trickles forever would otherwise hold it until the request timeout).
 */
function answerEarly(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJson(res, status, body, { ...headers, connection: 'close' });
}

/**
 * The body a framework's parser already read (`express.json()`, `express.text()`, `express.raw()`), if
 * any: the stream is then used up, so the parsed value is all there is. Undefined when the body is
 * still to be read.
 */
function preParsed(req: IncomingMessage): { value: unknown } | 'unreadable' | undefined {
  const body = (req as { body?: unknown }).body;
  if (body === undefined || !req.readableEnded) return undefined;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const text = typeof body === 'string' ? body : decodeUtf8(body);
    if (text === undefined) return 'unreadable';
    try {
      return { value: JSON.parse(text) };
    } catch {
      return 'unreadable';
    }
  }
  return { value: body };
}

/** Handle one `POST /publish`. Never throws; every outcome is an HTTP status with a JSON body. */
export async function handlePublishRequest(req: IncomingMessage, res: ServerResponse, route: PublishRoute): Promise<void> {
  try {
    if (route.key === undefined) return answerEarly(res, 403, { error: 'http_publish_disabled', message: 'no publish key is configured' });
    // Compared even when absent (as ''): how long the check takes does not say whether a key was sent.
    if (!keyMatches(bearerToken(req.headers.authorization) ?? '', route.key)) {
      return answerEarly(res, 401, { error: 'unauthorized', message: 'a valid bearer key is required' }, { 'www-authenticate': 'Bearer' });
    }
    let parsed: unknown;
    const already = preParsed(req);
    if (already === 'unreadable') return sendJson(res, 400, { error: 'bad_json', message: 'body is not valid JSON' });
    if (already !== undefined) parsed = already.value;
    else {
      const tooLarge = { error: 'too_large', message: `body exceeds ${route.maxBytes} bytes` };
      // Declared too large: refused before a byte of it is read (or sent, by a client that waits for an answer).
      if ((declaredLength(req) ?? 0) > route.maxBytes) return answerEarly(res, 413, tooLarge);
      const body = await readBody(req, route.maxBytes);
      if (body === 'too-large') return answerEarly(res, 413, tooLarge);
      // JSON text is UTF-8 (RFC 8259 §8.1): bytes that are not would be stored as U+FFFD, a message the
      // sender never sent, so they are refused like any other body that is not JSON.
      const text = decodeUtf8(body);
      if (text === undefined) return sendJson(res, 400, { error: 'bad_json', message: 'body is not valid UTF-8' });
      try {
        parsed = JSON.parse(text);
      } catch {
        return sendJson(res, 400, { error: 'bad_json', message: 'body is not valid JSON' });
      }
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return sendJson(res, 400, { error: 'bad_request', message: 'body must be a JSON object' });
    const { channel, data } = parsed as Record<string, unknown>;
    if (typeof channel !== 'string' || channel.length > MAX_CHANNEL_LENGTH || !CHANNEL.test(channel)) {
      return sendJson(res, 400, { error: 'bad_channel', message: 'channel must be 1-200 printable ASCII characters' });
    }
    // Channels under `$lifeline.` carry the server's own feeds (the dashboard's stats); nobody may forge them.
    if (channel.startsWith('$lifeline.')) return sendJson(res, 403, { error: 'reserved_channel', message: 'channels under $lifeline. belong to the server' });
    if (!('data' in (parsed as object))) return sendJson(res, 400, { error: 'bad_request', message: 'data is required' });
    const keyed = idempotencyKeyOf(parsed as Record<string, unknown>, req.headers['idempotency-key']);
    if ('error' in keyed) return sendJson(res, 400, { error: 'bad_idempotency_key', message: keyed.error });
    const idempotencyKey = keyed.key;
    let result: AppendResult;
    try {
      result = await route.publish(channel, data as Json, idempotencyKey === undefined ? undefined : `h:${idempotencyKey}`);
    } catch (error) {
      if (error instanceof IdempotencyConflictError) {
        const first = error.original;
        return sendJson(res, 409, {
          error: 'idempotency_conflict',
          message: 'this idempotency key was used for another message; nothing was stored',
          ...(first ? { original: { channel: first.channel, epoch: first.epoch, offset: first.offset } } : {}),
        });
      }
      // Data the store cannot represent (nested too deep for JSON text) is the caller's mistake, not an outage.
      if (error instanceof TypeError || error instanceof RangeError) {
        return sendJson(res, 400, { error: 'bad_data', message: 'data cannot be stored as JSON (too deeply nested, or not JSON)' });
      }
      route.onStoreError(error);
      if (error instanceof StoreOutcomeUnknownError) {
        route.onOutcomeUnknown();
        // Sent, never confirmed: it may be stored. Saying "not stored" would invite a duplicate.
        const how = idempotencyKey === undefined
          ? 'publish with an idempotencyKey to be able to retry safely'
          : 'retry with the same idempotencyKey: it answers with the stored message if there is one';
        return sendJson(res, 503, { error: 'outcome_unknown', message: `the store did not confirm the write; the message may or may not be stored; ${how}` }, { 'retry-after': '1' });
      }
      return sendJson(res, 503, { error: 'store_unavailable', message: 'the message was not stored; retry later' }, { 'retry-after': '1' });
    }
    const { message } = result;
    sendJson(res, 200, { channel, epoch: message.epoch, offset: message.offset, duplicate: result.duplicate });
  } catch {
    if (!res.headersSent) answerEarly(res, 400, { error: 'bad_request', message: 'request could not be read' });
    else res.destroy();
  }
}
