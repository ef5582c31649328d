/** One WebSocket connection attempt, as a prober makes it every few ms across a restart. */
import { WebSocket } from 'ws';

/** Try one connection to `url`; true when it opened within `timeoutMs` (then it is closed at once). */
export function opens(url: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.terminate();
      resolve(false);
    }, timeoutMs);
    ws.on('open', () => {
      clearTimeout(timer);
      ws.close();
      resolve(true);
    });
    ws.on('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}
