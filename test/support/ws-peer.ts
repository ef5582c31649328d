/** A raw `ws` peer for tests that need to see exactly what crossed the wire. */
import { WebSocket } from 'ws';

/** What a raw peer saw when its connection closed. */
export interface SeenClose {
  code: number;
  /** The reason exactly as bytes on the wire. */
  reasonBytes: Buffer;
  reason: string;
  /** `Date.now()` when the close arrived. */
  at: number;
}

/** A connected raw peer. */
export interface Peer {
  ws: WebSocket;
  messages: string[];
  closed: Promise<SeenClose>;
  /** Send and wait for the next message. */
  request(text: string, timeoutMs?: number): Promise<string>;
}

const peers = new Set<WebSocket>();

/** Open a raw WebSocket and wait until it is open. */
export async function connectPeer(url: string, protocols?: string | string[]): Promise<Peer> {
  const ws = new WebSocket(url, protocols);
  peers.add(ws);
  const messages: string[] = [];
  const waiting: ((m: string) => void)[] = [];
  ws.on('message', (data) => {
    const text = (data as Buffer).toString('utf8');
    messages.push(text);
    waiting.shift()?.(text);
  });
  const closed = new Promise<SeenClose>((resolve) => {
    ws.on('close', (code, reasonBytes) => {
      peers.delete(ws);
      resolve({ code, reasonBytes, reason: reasonBytes.toString('utf8'), at: Date.now() });
    });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('error', () => {});
  return {
    ws,
    messages,
    closed,
    request(text, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to ${text}`)), timeoutMs);
        waiting.push((m) => {
          clearTimeout(timer);
          resolve(m);
        });
        ws.send(text);
      });
    },
  };
}

/** Try to open a WebSocket and report the HTTP status if the server refused the upgrade. */
export function tryUpgrade(url: string, headers: Record<string, string> = {}): Promise<{ opened: true } | { opened: false; status: number | undefined; headers: Record<string, unknown>; error?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.terminate();
      resolve({ opened: true });
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve({ opened: false, status: res.statusCode, headers: res.headers });
      ws.terminate();
    });
    ws.on('error', (err) => resolve({ opened: false, status: undefined, headers: {}, error: err.message }));
  });
}

/** Terminate every peer a test left open. */
export function closeAllPeers(): void {
  for (const ws of peers) ws.terminate();
  peers.clear();
}
