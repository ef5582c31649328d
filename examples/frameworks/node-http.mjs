// lifeline on your own node:http server, beside another WebSocket endpoint on the same port.
//
// `attach(http, { path: '/live' })` takes only the upgrades to /live and leaves the others alone, so a
// second endpoint (here a `ws` echo on /echo; graphql-ws or Vite's HMR alike) keeps working.
// `handleRequest` answers lifeline's HTTP routes (/healthz, /readyz, POST /publish, /metrics) and
// returns false for everything else, which stays the application's.
//
// Run: LIFELINE_PUBLISH_KEY=... node examples/frameworks/node-http.mjs [port]
import { createServer as createHttpServer } from 'node:http';
import pino from 'pino';
import { WebSocketServer } from 'ws';
import { createServer, handleSignals } from 'lifeline/server';
import { createMetrics } from 'lifeline/server/metrics';

const logger = pino({ level: 'warn' });
const lifeline = createServer({ logger, publishKey: process.env.LIFELINE_PUBLISH_KEY });
lifeline.addRoute(createMetrics(lifeline).route);

const http = createHttpServer((req, res) => {
  if (lifeline.handleRequest(req, res)) return;
  res.writeHead(200, { 'content-type': 'text/plain' }).end('hello from node:http\n');
});
lifeline.attach(http, { path: '/live' });

// Someone else's endpoint on the same server.
const echo = new WebSocketServer({ noServer: true });
http.on('upgrade', (req, socket, head) => {
  if (new URL(req.url, 'http://localhost').pathname !== '/echo') return;
  echo.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data) => ws.send(String(data))));
});

http.listen(Number(process.argv[2] ?? 3000), '127.0.0.1', () => console.log(`listening on ${http.address().port}`));
handleSignals(lifeline, { logger });
