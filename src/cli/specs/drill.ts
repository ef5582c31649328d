/**
 * The table of `lifeline drill`.
 * @packageDocumentation
 */
import { defineCommand, option, OUTPUT_OPTIONS } from '../spec.js';
import { duration, integer, rate, text } from '../values.js';

/** `lifeline drill`. */
export const DRILL = defineCommand({
  name: 'drill',
  summary: 'count every message across restarts; exit 1 on any loss, or when nothing was tested',
  description: [
    'Runs N lifeline.v1 clients against a running server (or several, as behind a load balancer) while a publisher per channel publishes over HTTP and every client publishes too, and counts every acknowledged message at every subscriber: lost, duplicated, out of order. Restart the server while it runs (a deploy, SIGTERM, SIGKILL, SIGHUP).',
    'It passes only when nothing was lost, duplicated or reordered AND something was tested: at least --expect-restarts restarts seen by some client, and at least one acknowledged publish in each direction that was asked for (a drill whose client publishes are all refused, e.g. without --client-publish on the server, fails).',
  ],
  positionals: [{ name: 'url', help: 'ws:// URL of the server; with several, clients are spread over them and each reconnect tries the next', required: true, multiple: true }],
  options: {
    clients: option({ flag: 'clients', type: integer('N', 1, 100_000), default: 50, help: 'protocol clients; client i subscribes to channel i mod --channels' }),
    channels: option({ flag: 'channels', type: integer('N', 1, 10_000), default: 5, help: 'channels, each with its own HTTP publisher' }),
    duration: option({ flag: 'duration', type: duration, default: 30_000, help: 'how long to publish' }),
    rate: option({ flag: 'rate', type: rate, default: 10, help: 'HTTP publishes per second, per channel (0: none)' }),
    clientRate: option({ flag: 'client-rate', type: rate, default: 1, help: 'acknowledged publishes per second, per client (0: none)' }),
    publishKey: option({ flag: 'publish-key', type: text('KEY'), env: 'LIFELINE_PUBLISH_KEY', help: "the server's publish key, for POST /publish (required)" }),
    publishUrl: option({ flag: 'publish-url', type: text('URL'), defaultText: 'http(s)://<first url host>/publish', help: 'where to POST publishes' }),
    settle: option({ flag: 'settle', type: duration, default: 15_000, help: 'after publishing stops, how long to wait for stragglers before counting losses' }),
    prefix: option({ flag: 'prefix', type: text('NAME'), defaultText: 'drill.<random>', help: 'channel name prefix (channels are PREFIX.0, PREFIX.1, ...); the server must let clients publish there' }),
    expectRestarts: option({ flag: 'expect-restarts', type: integer('N', 0, 10_000), default: 1, help: 'fail unless some client reconnected at least N times (one per restart); 0 for a drill without restarts' }),
    ...OUTPUT_OPTIONS,
  },
  exits: [
    [0, 'nothing lost, duplicated or reordered, and every check had something to check'],
    [1, 'a loss, a duplicate, a reordering, an unacknowledged publish, or nothing tested (see the result line)'],
    [2, 'usage error (one line on stderr)'],
  ],
  examples: [
    'lifeline drill ws://127.0.0.1:8080/ --clients 50 --channels 5 --duration 30s',
    'lifeline drill ws://app-1:8080/ ws://app-2:8080/ --expect-restarts 2 --json',
    'lifeline drill ws://127.0.0.1:8080/ --duration 10s --expect-restarts 0   # no restart: a steady-state check',
  ],
});
