#!/usr/bin/env node
// Builds the static C init (native/execdriver-init) and execdriver-oci's native front
// (native/execdriver-oci-front) from the shipped sources. npm runs it when the
// package is installed (the `install` script) and again on `npm rebuild execdriver`. When it cannot
// build, it says why in ONE line on stderr and exits 1, which fails the install: without the init
// no driver can run a container. No other output unless EXECDRIVER_BUILD_VERBOSE is set.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const top = fileURLToPath(new URL('..', import.meta.url));
const native = `${top}native`;
const packages = 'apt-get install gcc make libc6-dev libseccomp-dev';

// One line, then exit 1: npm fails (and rolls back) the install, the user fixes what is named and
// runs the same command again.
function fail(why, fix = packages) {
  process.stderr.write(`execdriver: cannot build the init helper: ${why} (${fix})\n`);
  process.exit(1);
}

if (process.platform !== 'linux') fail(`${process.platform} is not supported`, 'execdriver runs on Linux only');
if (!existsSync(`${native}/Makefile`)) fail(`${native}/Makefile is missing`, 'reinstall the package');

const run = (file, args, opts = {}) => spawnSync(file, args, { encoding: 'utf8', ...opts });
for (const tool of ['gcc', 'make']) {
  const r = run(tool, ['--version']);
  if (r.error) fail(r.error.code === 'ENOENT' ? `${tool} not found` : `${tool}: ${r.error.message}`);
}
// the init is linked statically: it needs the static archives, which the -dev packages carry
for (const [lib, what] of [
  ['libc.a', 'the static C library (libc.a, Debian libc6-dev) not found'],
  ['libseccomp.a', 'the static libseccomp (libseccomp.a, Debian libseccomp-dev) not found'],
]) {
  const path = run('gcc', [`-print-file-name=${lib}`]).stdout?.trim() ?? '';
  if (!path.includes('/') || !existsSync(path)) fail(what);
}

const verbose = !!process.env['EXECDRIVER_BUILD_VERBOSE'];
const r = run('make', ['-s', '-C', native], verbose ? { stdio: 'inherit' } : {});
if (r.error) fail(`make: ${r.error.message}`);
if (r.status !== 0) {
  const lines = `${r.stderr ?? ''}\n${r.stdout ?? ''}`.split('\n').map((l) => l.trim()).filter(Boolean);
  const first = lines.find((l) => /\berror\b/i.test(l)) ?? lines[0] ?? `exit status ${r.status}`;
  fail(`make failed: ${first}`, 'EXECDRIVER_BUILD_VERBOSE=1 shows the whole output');
}
if (!existsSync(`${native}/execdriver-init`)) fail('make did not produce native/execdriver-init', `run: make -C ${native}`);
// execdriver-oci's native front (native/ocifront.c); without it bin/execdriver-oci runs Node for every call
if (!existsSync(`${native}/execdriver-oci-front`)) fail('make did not produce native/execdriver-oci-front', `run: make -C ${native}`);
