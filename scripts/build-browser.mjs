#!/usr/bin/env node
// Browser builds, after `tsc`:
// - dist/browser/lifeline-client.js: the isomorphic client (src/client/index.ts) as one minified ES
//   module for browsers;
// - the size of what an application's bundle gets for `createSession` and for `createClient` (minified
//   and gzip), printed beside other clients' and written to dist/browser/size.json; the build fails
//   when either exceeds its budget;
// - dist/dashboard/: the dashboard and demo pages (HTML, CSS, app.js, demo.js). Their scripts import
//   the client from ./lifeline-client.js, so the pages run on exactly the build above.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const at = (...parts) => join(root, ...parts);

/**
 * Budgets, gzip bytes. Issue 12's targets are 12 KB for a session client and 8 KB for the plain one; the
 * session grew past 12 KB with issue 11 (credentials with refresh, results, takeover: 12.7 KB). Issue 13
 * split client and session into one concern per file (12.8 KB; the plain client went from 7.8 to 7.6 KB
 * when the lazy `ws` import stopped pulling in `ws`'s browser stub), so the session's budget stays at 13 KB.
 * Issue 17 added presence (subscribe with presence, queries, join/leave: about 0.45 KB gzip) and won most of
 * it back (the client reads close codes without the registry's error class, compares error codes as
 * literals): createSession 12.9 KB, createClient 7.5 KB. The bundle diet that followed brought the session
 * back under issue 12's 12 KB (the client carries only the registry's outline, by code: English names and
 * default reactions; shorter messages; constants a bundler inlines; see the git log of `bundle-diet`):
 * createSession 11.9 KB, createClient 6.6 KB. The budgets hold those: 12 KB, and 6.8 KB.
 */
const BUDGETS = { createSession: 12_000, createClient: 6_800 };
/** Other clients' published gzip sizes, for comparison (socket.io-client is also measured below). */
const OTHERS = [
  ['socket.io-client', 13_500],
  ['centrifuge', 23_700],
  ['partysocket', 2_900],
];

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  minify: true,
  // No maps: the package would ship them without the sources they point to (dist/ has the readable tsc output).
  sourcemap: false,
  legalComments: 'none',
  // Error classes name themselves from `new.target.name`: minified names would turn RejectedError into "N".
  // (The client's own error classes set `name` literally, so the client builds below turn this off.)
  keepNames: true,
  // Nothing Node-specific may slip in: no shims for process/Buffer/global, and a Node built-in is an error.
  define: {},
  logLevel: 'warning',
  absWorkingDir: root,
};

// 1. The client. Its one dynamic import (`ws`, for Node 20 without a global WebSocket) has a variable
//    specifier, so esbuild leaves it alone and browsers never fetch it (they have WebSocket).
const clientOut = at('dist/browser/lifeline-client.js');
const client = { ...common, keepNames: false };
await build({ ...client, entryPoints: [at('src/client/index.ts')], outfile: clientOut });

const code = await readFile(clientOut);
const text = code.toString('utf8');
// Bundler-specific globals would break the module in a browser. Strings and identifiers alike are
// checked in the minified output; the registry's texts contain none of these words.
const forbidden = [/\brequire\s*\(/, /\bprocess\.(env|versions|platform|nextTick)\b/, /\bglobal\.(?!This)/, /\b__dirname\b/, /\b__filename\b/, /\bmodule\.exports\b/, /["']node:/];
const hits = forbidden.filter((re) => re.test(text));
if (hits.length > 0) {
  console.error(`build-browser: ${clientOut} references Node/bundler globals: ${hits.map(String).join(', ')}`);
  process.exit(1);
}
const gzip = (bytes) => gzipSync(bytes, { level: 9 }).byteLength;

/** What a bundler puts in an application that imports `names` from `from`: minified bytes and gzip bytes. */
async function bundleOf(names, from, options = client) {
  const result = await build({
    ...options,
    entryPoints: undefined,
    outfile: undefined,
    write: false,
    stdin: { contents: `export { ${names} } from '${from}';`, resolveDir: root, loader: 'ts' },
  });
  const bytes = result.outputFiles[0].contents;
  return { bytes: bytes.byteLength, gzipBytes: gzip(bytes) };
}

const size = {
  file: 'dist/browser/lifeline-client.js',
  entry: 'src/client/index.ts',
  bytes: code.byteLength,
  gzipBytes: gzip(code),
  format: 'esm',
  esbuild: (await import('esbuild')).version,
  createSession: await bundleOf('createSession', './src/client/index.ts'),
  createClient: await bundleOf('createClient', './src/client/index.ts'),
  budgets: BUDGETS,
};
// socket.io-client is a devDependency (the benchmarks compare against it): measured the same way.
const socketIo = await bundleOf('io', 'socket.io-client', { ...common, keepNames: false }).catch(() => undefined);
await writeFile(at('dist/browser/size.json'), `${JSON.stringify({ ...size, socketIoClient: socketIo }, null, 2)}\n`);

// 2. The dashboard. `../../client/index.js` becomes the external ./lifeline-client.js (served next to app.js).
const clientAsExternal = {
  name: 'lifeline-client-external',
  setup(b) {
    b.onResolve({ filter: /(^|\/)client\/index\.js$/ }, () => ({ path: './lifeline-client.js', external: true }));
  },
};
await mkdir(at('dist/dashboard'), { recursive: true });
await build({
  ...common,
  entryPoints: { app: at('src/dashboard/browser/app.ts'), demo: at('src/dashboard/browser/demo.ts') },
  outdir: at('dist/dashboard'),
  plugins: [clientAsExternal],
});
for (const file of ['index.html', 'demo.html', 'app.css']) await copyFile(at('src/dashboard/browser', file), at('dist/dashboard', file));

// Everything the build says goes to stderr: stdout belongs to the command that ran it (`npm pack --json`).
const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
const row = (name, s, note = '') => `  ${name.padEnd(48)} ${kb(s.bytes).padStart(9)} min ${kb(s.gzipBytes).padStart(8)} gz${note}`;
console.error('browser bundles (esbuild, minified; gzip -9):');
console.error(row('lifeline createSession', size.createSession, `   budget ${kb(BUDGETS.createSession)}`));
console.error(row('lifeline createClient', size.createClient, `   budget ${kb(BUDGETS.createClient)}`));
console.error(row(`whole client (${size.file})`, size));
if (socketIo) console.error(row('socket.io-client io (measured here)', socketIo));
for (const [name, gz] of OTHERS) console.error(`  ${`${name} (published figure)`.padEnd(48)} ${''.padStart(13)} ${kb(gz).padStart(8)} gz`);
for (const f of ['app.js', 'demo.js']) {
  const b = await readFile(at('dist/dashboard', f));
  console.error(`dashboard: dist/dashboard/${f} ${b.byteLength} bytes minified, ${gzip(b)} bytes gzip`);
}
const over = Object.entries(BUDGETS).filter(([name, budget]) => size[name].gzipBytes > budget);
if (over.length > 0) {
  console.error(`build-browser: over budget: ${over.map(([name, budget]) => `${name} ${size[name].gzipBytes} > ${budget} bytes gzip`).join(', ')} (keep the registry's texts out of the client: import from codes/outline and codes/types, never codes/index)`);
  process.exit(1);
}
