// lifeline in an Express app: one middleware line for its HTTP routes, the dashboard beside them,
// and the WebSocket upgrades of the server Express listens on.
//
// `express.json()` may come first: POST /publish takes the body it already parsed.
//
// Run: LIFELINE_PUBLISH_KEY=... LIFELINE_ADMIN_TOKEN=... node examples/frameworks/express.mjs [port]
import express from 'express';
import pino from 'pino';
import { mountDashboard } from 'lifeline/dashboard';
import { createServer, handleSignals } from 'lifeline/server';
import { createMetrics } from 'lifeline/server/metrics';

const logger = pino({ level: 'warn' });
const lifeline = createServer({ logger, publishKey: process.env.LIFELINE_PUBLISH_KEY });
lifeline.addRoute(createMetrics(lifeline).route);
// The operator dashboard at / (its page connects to the WebSocket at /, so lifeline takes that path).
mountDashboard({ server: lifeline, logger, demo: false, adminToken: process.env.LIFELINE_ADMIN_TOKEN });

const app = express();
app.use(express.json());
app.get('/hello', (_req, res) => res.type('text').send('hello from express\n'));
app.use((req, res, next) => lifeline.handleRequest(req, res) || next());

const http = app.listen(Number(process.argv[2] ?? 3000), '127.0.0.1', () => console.log(`listening on ${http.address().port}`));
lifeline.attach(http, { path: '/' });
handleSignals(lifeline, { logger });
