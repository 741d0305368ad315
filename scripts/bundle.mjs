#!/usr/bin/env node
// The bundled build of the command lines (issue 13, start-up): every file in bin/ names its
// compiled entry module (`'../dist/src/….js'`); esbuild bundles each entry, with the chunks they share
// and the ones their verbs import lazily, into dist/bundle/ (ES modules, source maps beside them),
// and the bin file loads dist/bundle/<bin name>.js unless the compiled modules are newer (tsc ran
// since). A Node start then reads a few files instead of ~90 modules. Run by `npm run build` after tsc; skipped, with one line, when
// esbuild (a dev dependency) is not installed: the bin files then load dist/src as before.
//
// A bin file that is a shell script (`#!/bin/sh`: bin/execdriver) gets a CommonJS copy of the same
// chunks too, dist/bundle/*.cjs, which it runs with `node FILE`: a CommonJS entry skips Node's ES
// module loader (~10 ms of a ~70 ms Node start, bench/STARTUP.md), and in the copy
//  - every `import()` of a chunk is a `require()` (still loaded only when the verb gets there);
//  - every Node built-in (`node:child_process`, `node:crypto`, ...) is required on its first use,
//    not when the chunk is evaluated: `--help` loads none of them, `run` only the ones it calls;
//  - `import.meta.url` is the file's own URL;
//  - the entry runs `main(process.argv.slice(2))` when it is the process's main module.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const top = fileURLToPath(new URL('..', import.meta.url));
const out = `${top}dist/bundle`;
rmSync(out, { recursive: true, force: true }); // never a stale bundle
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stderr.write('execdriver bundle: esbuild is not installed; the command lines load dist/src (slower start)\n');
  process.exit(0);
}

const entryPoints = {};
const cjsEntries = [];
for (const name of readdirSync(`${top}bin`)) {
  const text = readFileSync(`${top}bin/${name}`, 'utf8');
  const m = /'\.\.\/(dist\/src\/[^']+\.js)'/.exec(text);
  if (!m) continue;
  entryPoints[name] = `${top}${m[1]}`;
  if (text.startsWith('#!/bin/sh')) cjsEntries.push(name);
}
const common = { bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node20', packages: 'external', chunkNames: 'chunk-[hash]', logLevel: 'warning' };
await esbuild.build({
  ...common,
  entryPoints,
  outdir: out,
  sourcemap: 'linked', // NODE_OPTIONS=--enable-source-maps maps stack traces back to src/*.ts
});

if (cjsEntries.length) {
  // the same bundle again, ES modules in a scratch directory, each file then made CommonJS on its own
  const scratch = `${out}/.esm`;
  const cjsEntryPoints = Object.fromEntries(cjsEntries.map((n) => [n, entryPoints[n]]));
  await esbuild.build({ ...common, entryPoints: cjsEntryPoints, outdir: scratch, sourcemap: 'linked' });
  const files = readdirSync(scratch).filter((f) => f.endsWith('.js'));
  for (const f of files) {
    // chunk specifiers name the .cjs copies (same line lengths ±1: the source maps stay line-exact)
    const path = `${scratch}/${f}`;
    writeFileSync(path, readFileSync(path, 'utf8').replace(/(["']\.\/chunk-[A-Z0-9]+)\.js(["'])/g, '$1.cjs$2'));
  }
  const lazy =
    'var __lazyBuiltin = (id) => { let m; const get = () => (m ??= require(id)); ' +
    'return new Proxy({}, { get: (_, k) => get()[k], has: (_, k) => k in get(), ownKeys: () => Reflect.ownKeys(get()), ' +
    'getOwnPropertyDescriptor: (_, k) => { const d = Reflect.getOwnPropertyDescriptor(get(), k); return d && { ...d, configurable: true }; } }); };';
  await esbuild.build({
    entryPoints: files.map((f) => `${scratch}/${f}`),
    outdir: out,
    outExtension: { '.js': '.cjs' },
    bundle: false,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    supported: { 'dynamic-import': false }, // import("./chunk.cjs") → require, when it runs
    define: { 'import.meta.url': '__importMetaUrl' },
    banner: { js: `"use strict";\nvar __importMetaUrl = require("node:url").pathToFileURL(__filename).href;\n${lazy}` },
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  rmSync(scratch, { recursive: true, force: true });
  for (const f of readdirSync(out).filter((x) => x.endsWith('.cjs'))) {
    let text = readFileSync(`${out}/${f}`, 'utf8');
    // a built-in bound as a whole (`var import_node_fs = require("node:fs")`) is required on its first use
    text = text.replace(/^var (import_[A-Za-z0-9_$]+) = require\(("node:[a-z_/]+")\);$/gm, 'var $1 = __lazyBuiltin($2);');
    if (cjsEntries.includes(f.replace(/\.cjs$/, ''))) {
      text = text.replace(/\n(\/\/# sourceMappingURL=)/, '\nif (require.main === module) main(process.argv.slice(2)).then((code) => { process.exitCode = code; });\n$1');
    }
    writeFileSync(`${out}/${f}`, text);
  }
}
