// A chat client. The same code runs in a browser (import from 'lifeline/client', or the bundle
// dist/browser/lifeline-client.js) and in Node. It resumes after restarts (1012) and failures (1011,
// 1006) without losing or repeating a line.
//
// Run: node examples/chat-client.mjs [url]
import { createSession } from 'lifeline/client';

const url = process.argv[2] ?? 'ws://127.0.0.1:8090/?user=ada';
const session = createSession({ url });

session.subscribe('room.lobby');
session.on('message', ({ channel, offset, data }) => console.log(`[${channel} #${offset}] ${JSON.stringify(data)}`));
session.on('recovery', ({ lost }) => console.warn('history no longer covers the gap for', lost, '- reload from a snapshot'));
session.on('close', (c) =>
  console.log(`closed ${c.code} ${c.name}${c.incident ? ` (incident ${c.incident})` : ''}; reconnect: ${c.willReconnect}`),
);
session.on('stopped', ({ diagnosis }) => console.error('stopped:', diagnosis));
session.on('error', (error) => console.error(error.code, error.message));

// Stored once even if the link drops and the client resends; resolves when the server has it.
const { offset } = await session.publish('room.lobby', { type: 'line', text: 'hello, lobby' });
console.log(`stored at offset ${offset}`);
await session.send({ op: 'topic', room: 'lobby', topic: 'reliable websockets' });
console.log('topic command acknowledged');
if (process.argv.includes('--once')) {
  await new Promise((r) => setTimeout(r, 300));
  session.close();
}
