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
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * How a group file requires another group file (one module of each group file): from Node's module
 * cache when it is there (the entry, Node's main module), else through vm.Script with the V8 code
 * cache beside it (`<file>.v8cache`, made below; a rejected cache costs only its read), registered in
 * Node's module cache as `require` would; without a cache, or with --enable-source-maps (Node maps
 * only the files it loads itself), plain `require`.
 */
const GROUP_LOADER = `"use strict";
const { readFileSync } = require("node:fs");
// the CommonJS Module class: require("node:module") would load the ES module loader too (~3 ms)
const Module = require.main?.constructor ?? require("node:module");
module.exports = (file) => {
  const filename = __dirname + "/" + file;
  const known = require.cache[filename];
  if (known) return known.exports;
  let cachedData;
  try {
    if (!process.sourceMapsEnabled) cachedData = readFileSync(filename + ".v8cache");
  } catch {}
  if (!cachedData) return require(filename);
  const { Script } = require("node:vm");
  const script = new Script(Module.wrap(readFileSync(filename, "utf8")), { filename, cachedData });
  const m = new Module(filename, module);
  m.filename = filename;
  m.paths = Module._nodeModulePaths(__dirname);
  require.cache[filename] = m;
  script.runInThisContext().call(m.exports, m.exports, Module.createRequire(filename), m, filename, __dirname);
  m.loaded = true;
  return m.exports;
};
`;

/** Run by \`node -e\` with a file: writes <file>.v8cache. */
const CACHE_MAKER = `
const { readFileSync, writeFileSync } = require("node:fs");
const { Script } = require("node:vm");
const v8 = require("node:v8");
const file = process.argv[1];
v8.setFlagsFromString("--no-lazy");
const script = new Script(require("node:module").wrap(readFileSync(file, "utf8")), { filename: file });
v8.setFlagsFromString("--lazy");
writeFileSync(file + ".v8cache", script.createCachedData());
`;

const top = fileURLToPath(new URL('..', import.meta.url));
const out = `${top}${process.env['EXECDRIVER_BUNDLE_DIR'] ?? 'dist/bundle'}`; // (another directory: only to compare builds)
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
for (const name of readdirSync(`${top}bin`).sort()) {
  const text = readFileSync(`${top}bin/${name}`, 'utf8');
  const m = /'\.\.\/(dist\/src\/[^']+\.js)'/.exec(text);
  if (!m) continue;
  entryPoints[name] = `${top}${m[1]}`;
  if (text.startsWith('#!/bin/sh')) cjsEntries.push(name);
}
const common = { bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node20', packages: 'external', chunkNames: 'chunk-[hash]', logLevel: 'warning' };
await esbuild.build({
  ...common,
  // the ES module build for the bin files that import it (a shell launcher runs the CommonJS one below)
  entryPoints: Object.fromEntries(Object.entries(entryPoints).filter(([n]) => !cjsEntries.includes(n))),
  outdir: out,
  sourcemap: 'linked', // NODE_OPTIONS=--enable-source-maps maps stack traces back to src/*.ts
});

// What each CommonJS entry reads at once besides its own chunks: the modules of its common heavy
// path (<entry>-run.cjs). Each entry is built on its own, its chunks named with a prefix of its
// own, so that no chunk file is ever shared (or stubbed) between two entries' groups.
const HOT_ROOTS = {
  execdriver: /dist\/src\/(cli\/run|native\/index)\.js$/, // `run` and the native driver
  'execdriver-oci': /dist\/src\/oci\/driver\.js$/, // create, delete and the rest of the engine's calls
};
for (const [n, entryName] of cjsEntries.entries()) {
  const prefix = n === 0 ? 'chunk' : `chunk${n}`;
  // the same bundle again, ES modules in a scratch directory, each file then made CommonJS on its own
  const scratch = `${out}/.esm-${entryName}`;
  const staging = `${out}/.cjs`;
  const cjsEntryPoints = { [entryName]: entryPoints[entryName] };
  const { metafile } = await esbuild.build({ ...common, chunkNames: `${prefix}-[hash]`, entryPoints: cjsEntryPoints, outdir: scratch, sourcemap: 'linked', metafile: true });
  const files = readdirSync(scratch).filter((f) => f.endsWith('.js'));
  for (const f of files) {
    // chunk specifiers name the .cjs copies (same line lengths ±1: the source maps stay line-exact)
    const path = `${scratch}/${f}`;
    writeFileSync(path, readFileSync(path, 'utf8').replace(/(["']\.\/chunk\d*-[A-Z0-9]+)\.js(["'])/g, '$1.cjs$2'));
  }
  const lazy =
    'var __lazyBuiltin = (id) => { let m; const get = () => (m ??= require(id)); ' +
    'return new Proxy({}, { get: (_, k) => get()[k], has: (_, k) => k in get(), ownKeys: () => Reflect.ownKeys(get()), ' +
    'getOwnPropertyDescriptor: (_, k) => { const d = Reflect.getOwnPropertyDescriptor(get(), k); return d && { ...d, configurable: true }; } }); };';
  await esbuild.build({
    entryPoints: files.map((f) => `${scratch}/${f}`),
    outdir: staging,
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
  for (const f of readdirSync(staging).filter((x) => x.endsWith('.cjs'))) {
    // a built-in bound as a whole (`var import_node_fs = require("node:fs")`) is required on its first use
    const text = readFileSync(`${staging}/${f}`, 'utf8');
    writeFileSync(`${staging}/${f}`, text.replace(/^var (import_[A-Za-z0-9_$]+) = require\(("node:[a-z_/]+")\);$/gm, 'var $1 = __lazyBuiltin($2);'));
  }

  // Fewer files: each file Node requires costs a resolution (realpath, stats), a read and a
  // compilation of its own (~1 ms each here), and `run` would read ~25 of them. The entry with the
  // chunks it needs at once (what `--help` reads) becomes one file, <entry>.cjs; the chunks of the
  // run verb and the native driver, minus those, one more, <entry>-run.cjs (esbuild bundles the
  // CommonJS chunks: each stays a function, evaluated when first required, as before). The other
  // verbs' chunks stay files of their own; a chunk that went into a group leaves a one-line file
  // under its name that requires it from there.
  const chunkOf = (outPath) => outPath.replace(/^.*\//, '').replace(/\.js$/, '.cjs');
  const statics = new Map(); // chunk → the chunks it requires at once
  for (const [o, meta] of Object.entries(metafile.outputs)) {
    if (o.endsWith('.js')) statics.set(chunkOf(o), meta.imports.filter((i) => i.kind === 'import-statement' && !i.external).map((i) => chunkOf(i.path)));
  }
  const closure = (roots, seen = new Set()) => {
    for (const r of roots) if (!seen.has(r)) (seen.add(r), closure(statics.get(r) ?? [], seen));
    return seen;
  };
  const hot = HOT_ROOTS[entryName] ?? /^$/;
  const hotRoots = Object.entries(metafile.outputs)
    .filter(([, meta]) => hot.test(meta.entryPoint ?? ''))
    .map(([o]) => chunkOf(o));
  const groups = [];
  const first = closure([`${entryName}.cjs`]);
  groups.push([`${entryName}.cjs`, [...first]], [`${entryName}-run.cjs`, [...closure(hotRoots)].filter((c) => !first.has(c))]);
  const home = new Map(groups.flatMap(([file, chunks]) => chunks.map((c) => [c, file])));
  for (const [file, chunks] of groups) {
    const stub = `${staging}/${file}.group.cjs`;
    writeFileSync(stub, `exports.load = {\n${chunks.map((c) => `  ${JSON.stringify(c)}: () => require("./${c}"),`).join('\n')}\n};\n`);
    await esbuild.build({
      entryPoints: [stub],
      outfile: `${out}/${file}`,
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      sourcemap: 'linked',
      logLevel: 'warning',
      plugins: [{
        name: 'other-groups',
        setup(b) {
          // a chunk of another group is taken from that group's file, a chunk of none from its own
          b.onResolve({ filter: /^\.\/[\w-]+\.cjs$/ }, (a) => {
            const c = a.path.slice(2);
            if (chunks.includes(c)) return undefined;
            const g = home.get(c);
            return g && g !== c ? { path: c, namespace: 'other-group' } : { path: a.path, external: true };
          });
          b.onLoad({ filter: /.*/, namespace: 'other-group' }, (a) => ({
            contents: `module.exports = require("group-loader")(${JSON.stringify(home.get(a.path))}).load[${JSON.stringify(a.path)}]();\n`,
            loader: 'js',
          }));
          b.onResolve({ filter: /^group-loader$/ }, () => ({ path: 'group-loader', namespace: 'group-loader' }));
          b.onLoad({ filter: /.*/, namespace: 'group-loader' }, () => ({ contents: GROUP_LOADER, loader: 'js' }));
        },
      }],
    });
    let text = readFileSync(`${out}/${file}`, 'utf8');
    if (file.replace(/\.cjs$/, '') in cjsEntryPoints) {
      // the entry's exports, and its main when it is the process's main module
      const main =
        `module.exports = Object.defineProperties(module.exports.load[${JSON.stringify(file)}](), { load: { value: module.exports.load } });\n` +
        'if (require.main === module) module.exports.main(process.argv.slice(2)).then((code) => { process.exitCode = code; });\n';
      text = text.replace(/\n(\/\/# sourceMappingURL=[^\n]*\n?)$/, `\n${main}$1`);
      writeFileSync(`${out}/${file}`, text);
    }
  }
  for (const f of readdirSync(staging).filter((x) => x.endsWith('.cjs') && !x.endsWith('.group.cjs'))) {
    const group = home.get(f);
    if (!group) {
      // a chunk of no group: its file as it is
      writeFileSync(`${out}/${f}`, readFileSync(`${staging}/${f}`));
      writeFileSync(`${out}/${f}.map`, readFileSync(`${staging}/${f}.map`));
    } else if (group !== f) {
      writeFileSync(`${out}/${f}`, `"use strict";\nmodule.exports = require("./${group}").load[${JSON.stringify(f)}]();\n`);
    }
  }
  rmSync(scratch, { recursive: true, force: true });
  rmSync(staging, { recursive: true, force: true });
  // V8's code cache of the run group, every function compiled (--no-lazy while it compiles, the
  // flags as they were when the cache is written: a Node start accepts it), by this Node: another
  // Node version rejects it and compiles as without it.
  for (const [file] of groups.filter(([f]) => f.endsWith('-run.cjs'))) {
    const made = spawnSync(process.execPath, ['-e', CACHE_MAKER, `${out}/${file}`], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (made.status !== 0) process.stderr.write(`execdriver bundle: no code cache for ${file} (exit ${made.status})\n`);
  }
}
