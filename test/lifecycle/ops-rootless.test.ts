/**
 * Rootless containers have no cgroup: pause and update are clear errors (exit 1); stats gives the
 * network and the processes of the pid namespace; top works. Both drivers, run as the test user
 * `execdriver-rl` (made here if missing, as test/userns/rootless.test.ts does) through runuser.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, makeRootfs, uniqueId } from '../helpers.js';

const USER = 'execdriver-rl';

function ensureUser(): { uid: number; gid: number } {
  if (spawnSync('id', ['-u', USER]).status !== 0) execFileSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
  const has = (f: string) => readFileSync(f, 'utf8').split('\n').some((l) => l.startsWith(`${USER}:`));
  if (!has('/etc/subuid') || !has('/etc/subgid')) {
    const ends = ['/etc/subuid', '/etc/subgid'].flatMap((f) =>
      readFileSync(f, 'utf8').split('\n').map((l) => l.split(':')).filter((x) => x.length === 3).map((x) => Number(x[1]) + Number(x[2])),
    );
    const start = Math.max(100000, ...ends);
    execFileSync('usermod', ['--add-subuids', `${start}-${start + 65535}`, '--add-subgids', `${start}-${start + 65535}`, USER]);
  }
  return { uid: Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' })) };
}

describe('ops of rootless containers (no cgroup)', () => {
  let rootfs: string;
  let xdg: string;
  let made: { dir: string; cleanup: () => void };
  const cli = (args: string[]) =>
    spawnSync('runuser', ['-u', USER, '--', 'env', '-i', 'PATH=/usr/bin:/bin', `XDG_RUNTIME_DIR=${xdg}`, process.execPath, CLI, ...args], {
      encoding: 'utf8',
      timeout: 30_000,
    });

  before(() => {
    const me = ensureUser();
    made = makeRootfs();
    rootfs = mkdtempSync(join(tmpdir(), 'execdriver-ops-rl-rootfs-'));
    cpSync(made.dir, rootfs, { recursive: true, verbatimSymlinks: true });
    execFileSync('chown', ['-R', `${me.uid}:${me.gid}`, rootfs]);
    xdg = mkdtempSync(join(tmpdir(), 'execdriver-ops-rl-xdg-'));
    chownSync(xdg, me.uid, me.gid);
  });
  after(() => {
    made.cleanup();
    rmSync(rootfs, { recursive: true, force: true });
    rmSync(xdg, { recursive: true, force: true });
  });

  for (const driver of ['native', 'lxc']) {
    it(`${driver}: stats (pids of the namespace, no memory), top; pause and update refused with exit 1`, () => {
      const id = uniqueId('opsrl');
      const r = cli(['--driver', driver, 'run', '-d', '--id', id, '--rootfs', rootfs, '--', 'sh', '-c', 'sleep 1000 & sleep 1000']);
      assert.equal(r.status, 0, r.stderr);
      try {
        let s: { pids: { current: number }; memory: unknown; cpu: unknown } | undefined;
        for (let i = 0; i < 50 && !(s && s.pids.current === 2); i++) {
          const out = cli(['--driver', driver, 'stats', '--no-stream', '--json', id]);
          assert.equal(out.status, 0, out.stderr);
          s = JSON.parse(out.stdout);
        }
        assert.equal(s!.pids.current, 2);
        assert.equal(s!.memory, null);
        assert.equal(s!.cpu, null);
        const top = cli(['--driver', driver, 'top', '--json', id]);
        assert.equal(top.status, 0, top.stderr);
        const rows = JSON.parse(top.stdout) as { command: string[]; user: string; containerPid: number }[];
        assert.equal(rows.length, 2);
        assert.ok(rows.every((p) => p.command.join(' ') === 'sleep 1000' && p.user === USER), top.stdout);
        for (const args of [['pause', id], ['update', '-m', '32m', id]]) {
          const x = cli(['--driver', driver, ...args]);
          assert.equal(x.status, 1, `${args[0]}: ${x.stderr}`);
          assert.match(x.stderr, /^execdriver: container \S+: \w+: a rootless container has no cgroup/);
        }
      } finally {
        assert.equal(cli(['--driver', driver, 'delete', '--force', id]).status, 0);
      }
    });
  }
});
