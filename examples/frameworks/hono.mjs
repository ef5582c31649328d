// lifeline in a Hono app on Node (@hono/node-server): a middleware hands lifeline's HTTP routes the
// Node request and response (c.env.incoming / c.env.outgoing) and tells Hono the response is already
// sent; lifeline takes the upgrades to /live of the server @hono/node-server listens on.
//
// Run: LIFELINE_PUBLISH_KEY=... node examples/frameworks/hono.mjs [port]
import { serve } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import pino from 'pino';
import { createServer, handleSignals } from 'lifeline/server';
import { createMetrics } from 'lifeline/server/metrics';

const logger = pino({ level: 'warn' });
const lifeline = createServer({ logger, publishKey: process.env.LIFELINE_PUBLISH_KEY });
lifeline.addRoute(createMetrics(lifeline).route);

const app = new Hono();
app.use(async (c, next) => {
  if (lifeline.handleRequest(c.env.incoming, c.env.outgoing)) return RESPONSE_ALREADY_SENT;
  await next();
});
app.get('/hello', (c) => c.text('hello from hono\n'));

const http = serve({ fetch: app.fetch, port: Number(process.argv[2] ?? 3000), hostname: '127.0.0.1' }, (info) => console.log(`listening on ${info.port}`));
lifeline.attach(http, { path: '/live' });
handleSignals(lifeline, { logger });
