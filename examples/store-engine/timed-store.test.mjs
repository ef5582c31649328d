// Proves the engine in `timed-store.mjs` keeps the Store contract: the conformance suite lifeline's own
// engines pass, from `lifeline/testing`, with the test runner's functions passed in (here vitest's; jest's
// fit as well). Run it with `npx vitest run timed-store.test.mjs`.
import { afterEach, describe, expect, it } from 'vitest';
import { storeConformance } from 'lifeline/testing';
import { createTimedStore } from './timed-store.mjs';

storeConformance({
  name: 'timed memory store (examples/store-engine)',
  open: (options) => createTimedStore(options),
  // Not durable: a "restart" is a new, empty store, and the suite checks it says so.
  reopen: (_previous, options) => createTimedStore(options),
  test: { describe, it, expect, afterEach },
});
