/** A raw `lifeline.v1` peer: speaks frames by hand, to test the server without the client library. */
import { WebSocket } from 'ws';
import type { ServerFrame } from '../../src/protocol/index.js';
import { validServerFrame } from './schema.js';

/** A connected raw protocol peer. */
export interface V1Peer {
  ws: WebSocket;
  frames: ServerFrame[];
  send(frame: unknown): void;
  /** Wait for the next frame matching `predicate` (including ones already received but not yet taken). */
  next<T extends ServerFrame = ServerFrame>(predicate?: (f: ServerFrame) => boolean, timeoutMs?: number): Promise<T>;
  closed: Promise<{ code: number; reason: string }>;
}

/** Open a `lifeline.v1` connection (no hello sent yet). */
export async function connectV1(url: string, headers: Record<string, string> = {}): Promise<V1Peer> {
  const ws = new WebSocket(url, 'lifeline.v1', { headers });
  const frames: ServerFrame[] = [];
  const invalid: ServerFrame[] = [];
  let cursor = 0;
  const waiters: (() => void)[] = [];
  ws.on('message', (data) => {
    const frame = JSON.parse((data as Buffer).toString('utf8')) as ServerFrame;
    // Every frame a real server sends must match the shipped schema; a stray one fails the test that waits.
    if (!validServerFrame(frame)) invalid.push(frame);
    frames.push(frame);
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
  });
  const taken = new Set<number>();
  return {
    ws,
    frames,
    closed,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    next<T extends ServerFrame>(predicate: (f: ServerFrame) => boolean = () => true, timeoutMs = 5000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching frame; saw ${JSON.stringify(frames.slice(-5))}`)), timeoutMs);
        const look = () => {
          if (invalid.length > 0) {
            clearTimeout(timer);
            reject(new Error(`the server sent frames the schema refuses: ${JSON.stringify(invalid.slice(0, 3))}`));
            return;
          }
          for (let i = cursor; i < frames.length; i++) {
            if (!taken.has(i) && predicate(frames[i]!)) {
              taken.add(i);
              while (taken.has(cursor)) cursor++;
              clearTimeout(timer);
              resolve(frames[i] as T);
              return;
            }
          }
          waiters.push(look);
        };
        look();
      });
    },
  };
}
