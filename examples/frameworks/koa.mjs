// lifeline in a Koa app: a middleware hands lifeline's HTTP routes to it (ctx.respond = false: the
// response is written by lifeline, Koa leaves it alone), and lifeline takes the upgrades to /live.
//
// Run: LIFELINE_PUBLISH_KEY=... node examples/frameworks/koa.mjs [port]
import Koa from 'koa';
import pino from 'pino';
import { createServer, handleSignals } from 'lifeline/server';
import { createMetrics } from 'lifeline/server/metrics';

const logger = pino({ level: 'warn' });
const lifeline = createServer({ logger, publishKey: process.env.LIFELINE_PUBLISH_KEY });
lifeline.addRoute(createMetrics(lifeline).route);

const app = new Koa();
app.use(async (ctx, next) => {
  if (lifeline.handleRequest(ctx.req, ctx.res)) ctx.respond = false;
  else await next();
});
app.use((ctx) => {
  if (ctx.path === '/hello') ctx.body = 'hello from koa\n';
});

const http = app.listen(Number(process.argv[2] ?? 3000), '127.0.0.1', () => console.log(`listening on ${http.address().port}`));
lifeline.attach(http, { path: '/live' });
handleSignals(lifeline, { logger });
