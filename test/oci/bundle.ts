/** Test bundles for execdriver-oci: a busybox rootfs and a config.json from `execdriver-oci spec`, edited. */
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRootfs, TEST_ROOT } from '../helpers.js';

export const OCI = new URL('../../../bin/execdriver-oci', import.meta.url).pathname;
/** this test process's own OCI root */
export const OCI_ROOT = join(TEST_ROOT, `oci-${process.pid}`);

/**
 * Run execdriver-oci; its stdout and stderr go through files (a container inherits the fds of
 * `create`/`run`: pipes would keep spawnSync waiting for their EOF).
 */
export function oci(args: string[], opts: { root?: string } = {}): { status: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'oci-out-'));
  const [o, e] = [openSync(join(dir, 'out'), 'w+'), openSync(join(dir, 'err'), 'w+')];
  try {
    const r = spawnSync(OCI, ['--root', opts.root ?? OCI_ROOT, ...args], { timeout: 60_000, stdio: ['ignore', o, e] });
    return { status: r.status, stdout: readFileSync(join(dir, 'out'), 'utf8'), stderr: readFileSync(join(dir, 'err'), 'utf8') };
  } finally {
    closeSync(o);
    closeSync(e);
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Bundle {
  dir: string;
  rootfs: string;
  config: Record<string, any>;
  write(): void;
  cleanup(): void;
}

/** A bundle whose process runs `sh -c SCRIPT` without a terminal, its rootfs writable. */
export function makeBundle(script = 'true'): Bundle {
  const dir = mkdtempSync(join(tmpdir(), 'oci-bundle-'));
  chmodSync(dir, 0o755); // a user namespace's root must reach the rootfs
  const r = makeRootfs();
  renameSync(r.dir, join(dir, 'rootfs'));
  const s = spawnSync(OCI, ['spec', '--bundle', dir], { encoding: 'utf8' });
  if (s.status !== 0) throw new Error(`spec: ${s.stderr}`);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  config.process.terminal = false;
  config.process.args = ['sh', '-c', script];
  config.root.readonly = false;
  const b: Bundle = {
    dir,
    rootfs: join(dir, 'rootfs'),
    config,
    write: () => writeFileSync(join(dir, 'config.json'), JSON.stringify(b.config, null, 1)),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  b.write();
  return b;
}

/** Run a bundle in the foreground (`run`), its output left in the rootfs's /out; the exit status and that output. */
export function runOut(b: Bundle, id: string): { status: number | null; out: string; stderr: string } {
  const r = oci(['run', '--bundle', b.dir, id]);
  let out = '';
  try {
    out = readFileSync(join(b.rootfs, 'out'), 'utf8');
  } catch {
    /* none */
  }
  return { status: r.status, out, stderr: r.stderr };
}
