// lifeline in a Fastify app: an onRequest hook hands lifeline's HTTP routes to it (reply.hijack()
// tells Fastify the response is taken care of), and lifeline takes the upgrades to /live of the
// server Fastify listens on.
//
// Run: LIFELINE_PUBLISH_KEY=... node examples/frameworks/fastify.mjs [port]
import Fastify from 'fastify';
import pino from 'pino';
import { createServer, handleSignals } from 'lifeline/server';
import { createMetrics } from 'lifeline/server/metrics';

const logger = pino({ level: 'warn' });
const lifeline = createServer({ logger, publishKey: process.env.LIFELINE_PUBLISH_KEY });
lifeline.addRoute(createMetrics(lifeline).route);

const app = Fastify();
app.addHook('onRequest', (request, reply, done) => {
  if (lifeline.handleRequest(request.raw, reply.raw)) reply.hijack();
  else done();
});
app.get('/hello', async () => 'hello from fastify\n');

await app.listen({ port: Number(process.argv[2] ?? 3000), host: '127.0.0.1' });
lifeline.attach(app.server, { path: '/live' });
console.log(`listening on ${app.server.address().port}`);
handleSignals(lifeline, { logger });
