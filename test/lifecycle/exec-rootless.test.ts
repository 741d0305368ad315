/**
 * exec into a rootless container (both drivers): a non-root user (`execdriver-rl`, as in
 * test/userns/rootless.test.ts) runs a container detached and execs into it through the command line.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, makeRootfs } from '../helpers.js';

const USER = 'execdriver-rl';

/** The test user and a subordinate range (the same as test/userns/rootless.test.ts makes). */
function ensureUser(): { uid: number; gid: number } {
  if (spawnSync('id', ['-u', USER]).status !== 0) execFileSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
  const has = (f: string) => readFileSync(f, 'utf8').split('\n').some((l) => l.startsWith(`${USER}:`));
  if (!has('/etc/subuid') || !has('/etc/subgid')) {
    const end = Math.max(
      100000,
      ...['/etc/subuid', '/etc/subgid'].flatMap((f) =>
        readFileSync(f, 'utf8').split('\n').map((l) => l.split(':')).filter((x) => x.length === 3).map((x) => Number(x[1]) + Number(x[2])),
      ),
    );
    execFileSync('usermod', ['--add-subuids', `${end}-${end + 65535}`, '--add-subgids', `${end}-${end + 65535}`, USER]);
  }
  return { uid: Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' })) };
}

describe('exec into a rootless container', () => {
  let rootfs: string;
  let xdg: string;
  const cli = (args: string[]) =>
    spawnSync('runuser', ['-u', USER, '--', 'env', '-i', 'PATH=/usr/bin:/bin', `XDG_RUNTIME_DIR=${xdg}`, process.execPath, CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

  before(() => {
    const me = ensureUser();
    const made = makeRootfs();
    rootfs = mkdtempSync(join(tmpdir(), 'execdriver-exrl-rootfs-'));
    cpSync(made.dir, rootfs, { recursive: true, verbatimSymlinks: true });
    made.cleanup();
    execFileSync('chown', ['-R', `${me.uid}:${me.gid}`, rootfs]);
    chmodSync(rootfs, 0o755);
    xdg = mkdtempSync(join(tmpdir(), 'execdriver-exrl-xdg-'));
    chownSync(xdg, me.uid, me.gid);
  });
  after(() => {
    rmSync(rootfs, { recursive: true, force: true });
    rmSync(xdg, { recursive: true, force: true });
  });

  for (const driver of ['native', 'lxc']) {
    it(`${driver}: the container's pid namespace and root, its capabilities, -u, -t, exit codes; nothing left`, () => {
      const id = `exrl${driver}${process.pid.toString(36)}`;
      let r = cli(['--driver', driver, 'run', '-d', '--id', id, '--rootfs', rootfs, '--', 'sleep', '1000']);
      assert.equal(r.status, 0, r.stderr);
      try {
        r = cli(['exec', id, '--', 'sh', '-c', 'echo $$; id -u; cat /proc/1/cmdline | tr "\\0" " "; echo; grep -E "^(CapEff|Seccomp):" /proc/self/status; exit 4']);
        assert.equal(r.status, 4, r.stderr);
        const [pid, uid, cmdline, capEff, seccomp] = r.stdout.split('\n');
        assert.notEqual(pid, '1');
        assert.equal(uid, '0');
        assert.equal(cmdline!.trim(), 'sleep 1000');
        assert.match(capEff!, /a80425fb/);
        assert.match(seccomp!, /2/);
        r = cli(['exec', '-u', 'nobody', id, '--', 'id', '-u']);
        assert.equal(r.stdout, '65534\n', r.stderr);
        r = cli(['exec', '-t', id, '--', 'tty']);
        assert.match(r.stdout, /^\/dev\/pts\/\d+/, r.stderr);
        assert.equal(cli(['exec', id, '--', 'no-such-program']).status, 127);
      } finally {
        r = cli(['terminate', id]);
        assert.equal(r.status, 0, r.stderr);
      }
      assert.equal(existsSync(join(xdg, 'execdriver', driver, id)), false);
      assert.deepEqual(readdirSync(join(xdg, 'execdriver', driver)), []);
    });
  }

  it('native --init: the minimal init is not dumpable, the exec joins through its child', () => {
    const id = `exrli${process.pid.toString(36)}`;
    let r = cli(['run', '-d', '--init', '--id', id, '--rootfs', rootfs, '--', 'sleep', '1000']);
    assert.equal(r.status, 0, r.stderr);
    try {
      r = cli(['exec', id, '--', 'sh', '-c', 'id -u; ps -o pid,comm']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^0\n/);
      assert.match(r.stdout, /^\s*1 execdriver-init$/m);
      assert.match(r.stdout, /^\s*2 sleep$/m);
      assert.equal(cli(['exec', '-u', 'nobody', id, '--', 'id', '-u']).stdout, '65534\n');
    } finally {
      assert.equal(cli(['terminate', id]).status, 0);
    }
  });
});
