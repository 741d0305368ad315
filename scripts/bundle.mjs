#!/usr/bin/env node
// The bundled build of the command lines (issue 13, start-up): every file in bin/ imports its
// compiled entry module (`../dist/src/….js`); esbuild bundles each entry, with the chunks they share
// and the ones their verbs import lazily, into dist/bundle/ (ES modules, source maps beside them),
// and the bin file loads dist/bundle/<bin name>.js unless the compiled modules are newer (tsc ran
// since). A Node start then reads a few files instead of ~90 modules. Run by `npm run build` after tsc; skipped, with one line, when
// esbuild (a dev dependency) is not installed: the bin files then load dist/src as before.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const top = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${top}dist/bundle`, { recursive: true, force: true }); // never a stale bundle
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stderr.write('execdriver bundle: esbuild is not installed; the command lines load dist/src (slower start)\n');
  process.exit(0);
}

const entryPoints = {};
for (const name of readdirSync(`${top}bin`)) {
  const m = /'\.\.\/(dist\/src\/[^']+\.js)'/.exec(readFileSync(`${top}bin/${name}`, 'utf8'));
  if (m) entryPoints[name] = `${top}${m[1]}`;
}
await esbuild.build({
  entryPoints,
  outdir: `${top}dist/bundle`,
  bundle: true,
  splitting: true, // a verb's `await import()` stays a chunk of its own, loaded only by that verb
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked', // NODE_OPTIONS=--enable-source-maps maps stack traces back to src/*.ts
  chunkNames: 'chunk-[hash]',
  logLevel: 'warning',
});
