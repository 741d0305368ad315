import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before } from 'node:test';
import type { Pipes } from '../src/driver.js';
import { createDriver, type ManagedDriver } from '../src/index.js';

/** Where the suite keeps its state: a root of its own, so it never touches /run/execdriver. */
export const TEST_ROOT = process.env['EXECDRIVER_TEST_ROOT'] ?? '/run/execdriver-test';

export const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p)) ?? '/bin/busybox';

/**
 * A busybox root filesystem made from the host's static busybox: every applet as a link,
 * /etc/passwd and /etc/group with root, nobody and a user 1000, a non-executable file.
 */
export function makeRootfs(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'execdriver-rootfs-'));
  chmodSync(dir, 0o755);
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home/user']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) if (a !== 'busybox') symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(
    join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000:user:/home/user:/bin/sh\n',
  );
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\nuser:x:1000:\nextra:x:2000:user\n');
  writeFileSync(join(dir, 'notexec'), '#!/bin/sh\necho no\n', { mode: 0o644 });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

let counter = 0;
/** A container id unique to this test process. */
/**
 * For a describe block: a native driver on TEST_ROOT and a busybox rootfs made before its tests
 * and removed after them (read `fx.driver`, `fx.rootfs.dir` inside the tests).
 */
export function nativeFixture(): { driver: ManagedDriver; rootfs: { dir: string; cleanup: () => void } } {
  const fx = {} as { driver: ManagedDriver; rootfs: { dir: string; cleanup: () => void } };
  before(() => {
    fx.driver = createDriver('native', { root: TEST_ROOT });
    fx.rootfs = makeRootfs();
  });
  after(() => fx.rootfs?.cleanup());
  return fx;
}

export function uniqueId(prefix = 't'): string {
  return `${prefix}${process.pid.toString(36)}${(counter++).toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}

/** Pipes that collect the container's output. */
export function capture(): { pipes: Pipes & { stdout: PassThrough; stderr: PassThrough }; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { pipes: { stdout, stderr }, out: () => o, err: () => e };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until fn() is truthy (bounded); returns its value. */
export async function until<T>(fn: () => T | Promise<T>, ms = 10_000, what = 'a condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export const CLI = new URL('../../bin/execdriver', import.meta.url).pathname;

let probeBinary: string | undefined;
/**
 * test/security/probe.c, compiled static once per test process, copied to `rootfsDir`/bin/probe.
 * `probe SYSCALL...` prints `NAME ok` or `NAME ERRNONAME` for each call (see probe.c).
 */
export function buildProbe(rootfsDir: string): string {
  if (!probeBinary) {
    const out = join(tmpdir(), `execdriver-probe-${process.pid}`);
    const src = new URL('../../test/security/probe.c', import.meta.url).pathname;
    execFileSync('gcc', ['-static', '-O2', '-Wall', '-Werror', '-o', out, src], { stdio: ['ignore', 'ignore', 'inherit'] });
    probeBinary = out;
    process.on('exit', () => rmSync(out, { force: true }));
  }
  copyFileSync(probeBinary, join(rootfsDir, 'bin/probe'));
  chmodSync(join(rootfsDir, 'bin/probe'), 0o755);
  return '/bin/probe';
}

/** `probe` output → { NAME: 'ok' | 'EPERM' | … }. */
export function parseProbe(out: string): Record<string, string> {
  return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/) as [string, string]));
}
