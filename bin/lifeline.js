#!/usr/bin/env node
// Thin launcher: the CLI itself is compiled TypeScript in dist/.
import('../dist/cli/main.js').then((m) => m.main(process.argv.slice(2))).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`lifeline: ${err && err.message ? err.message : String(err)}`); process.exitCode = 1; },
);
