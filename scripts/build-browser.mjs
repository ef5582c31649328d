#!/usr/bin/env node
// Browser builds, after `tsc`:
// - dist/browser/lifeline-client.js: the isomorphic client (src/client/index.ts) as one minified ES
//   module for browsers, with its size (minified and gzip) printed and written to dist/browser/size.json;
// - dist/dashboard/: the dashboard and demo pages (HTML, CSS, app.js, demo.js). Their scripts import
//   the client from ./lifeline-client.js, so the pages run on exactly the build above.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const at = (...parts) => join(root, ...parts);

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  // Error classes name themselves from `new.target.name`: minified names would turn RejectedError into "N".
  keepNames: true,
  // Nothing Node-specific may slip in: no shims for process/Buffer/global, and a Node built-in is an error.
  define: {},
  logLevel: 'warning',
  absWorkingDir: root,
};

// 1. The client. Its one dynamic import (`ws`, for Node 20 without a global WebSocket) has a variable
//    specifier, so esbuild leaves it alone and browsers never fetch it (they have WebSocket).
const clientOut = at('dist/browser/lifeline-client.js');
await build({ ...common, entryPoints: [at('src/client/index.ts')], outfile: clientOut });

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
const size = {
  file: 'dist/browser/lifeline-client.js',
  entry: 'src/client/index.ts',
  bytes: code.byteLength,
  gzipBytes: gzipSync(code, { level: 9 }).byteLength,
  format: 'esm',
  esbuild: (await import('esbuild')).version,
};
await writeFile(at('dist/browser/size.json'), `${JSON.stringify(size, null, 2)}\n`);

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

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`browser client: ${size.file} ${size.bytes} bytes minified (${kb(size.bytes)}), ${size.gzipBytes} bytes gzip (${kb(size.gzipBytes)})`);
for (const f of ['app.js', 'demo.js']) {
  const b = await readFile(at('dist/dashboard', f));
  console.log(`dashboard: dist/dashboard/${f} ${b.byteLength} bytes minified, ${gzipSync(b, { level: 9 }).byteLength} bytes gzip`);
}
