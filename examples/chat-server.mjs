// A chat service on lifeline: rooms are channels with history, members publish with acknowledged,
// exactly-once delivery, a bug in a handler costs one connection a 1011 (not the process), and a deploy
// (SIGTERM) drains with 1012 so clients resume without losing a line.
//
// Run (after `npm ci`, which builds dist/): node examples/chat-server.mjs [port] [data-dir]
import pino from 'pino';
import { createServer, handleSignals, PolicyViolationError } from 'lifeline/server';
import { createSqliteStore } from 'lifeline/store/sqlite';

const port = Number(process.argv[2] ?? 8090);
const dataDir = process.argv[3] ?? './chat-data';
const logger = pino({ level: 'info' });
const store = createSqliteStore({ path: `${dataDir}/chat.db`, history: { maxCount: 5000, maxAgeMs: 7 * 24 * 3600_000 } });

const server = createServer({
  logger,
  store,
  drainWindowMs: 5000,
  // Who is this? A real service checks a session cookie or a bearer token here.
  authenticate: (request) => {
    const user = new URL(request.url, 'http://x').searchParams.get('user');
    return user && /^[a-z0-9_]{1,32}$/.test(user) ? user : false;
  },
  authorizeSubscribe: (_connection, channel) => channel.startsWith('room.'),
  authorizePublish: (connection, channel) => channel.startsWith('room.') && connection.user !== undefined,
  // Acknowledged commands (`session.send(...)` on the client) run at most once per message id.
  onSessionMessage: async (connection, data) => {
    if (data?.op === 'topic' && typeof data.room === 'string' && typeof data.topic === 'string') {
      await server.publish(`room.${data.room}`, { type: 'topic', by: connection.user, topic: data.topic.slice(0, 200) });
      return;
    }
    throw new PolicyViolationError('unknown command'); // 1008: the client's mistake, never 1011
  },
});

handleSignals(server, { logger, beforeExit: () => store.close() });
const address = await server.listen(port, '127.0.0.1');
logger.info({ port: address.port }, 'chat server listening');
