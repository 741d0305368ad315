/**
 * exec beyond the contract suite, on both drivers: the command line, escapes through the
 * container's symlinks, paused containers, --privileged, detached output, resize, events,
 * user namespaces, and that an exec's state goes with its container.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../src/lxc/index.js';
import { createDriver, type DriverName, type ManagedDriver } from '../../src/index.js';
import { cgroupDirsOf } from '../../src/exec/index.js';
import { eventsFile } from '../../src/events/log.js';
import { processState } from '../../src/state/index.js';
import { capture, CLI, makeRootfs, TEST_ROOT, uniqueId, until } from '../helpers.js';

const alive = (pid: number) => {
  const s = processState(pid);
  return s !== undefined && s !== 'Z';
};
const cli = (...args: string[]) => spawnSync(CLI, ['--root', TEST_ROOT, ...args], { encoding: 'utf8', timeout: 30_000 });

for (const driverName of ['native', 'lxc'] as DriverName[]) {
  describe(`exec (${driverName})`, () => {
    let driver: ManagedDriver;
    let rootfs: { dir: string; cleanup: () => void };
    let id: string;
    let initPid: number;
    const secret = `/tmp/execdriver-exec-secret-${process.pid}-${driverName}`;
    const hostBin = `/tmp/execdriver-exec-hostbin-${process.pid}-${driverName}`;

    before(async () => {
      // LXC's user namespace containers need to search the state root (its mode when made by the
      // seccomp cache first is 0700: see the report)
      mkdirSync(TEST_ROOT, { recursive: true, mode: 0o711 });
      chmodSync(TEST_ROOT, 0o711);
      driver = createDriver(driverName, { root: TEST_ROOT });
      rootfs = makeRootfs();
      // host files a container must never make exec read or run
      writeFileSync(secret, 'hostuser:x:4242:4242::/:/bin/sh\n');
      mkdirSync(hostBin, { recursive: true });
      writeFileSync(join(hostBin, 'pwned'), '#!/bin/sh\necho HOST-FILE-RAN\n', { mode: 0o755 });
      id = uniqueId(`exl${driverName.slice(0, 2)}`);
      const h = await driver.start(
        { id, rootfs: rootfs.dir, network: { mode: 'none' }, entrypoint: 'sleep', arguments: ['1000'], env: ['FROM_RUN=1'], workingDir: '/root' },
        { detach: true },
      );
      initPid = h.pid;
    });
    after(async () => {
      await driver.terminate(id).catch(() => {});
      rootfs.cleanup();
      rmSync(secret, { force: true });
      rmSync(hostBin, { recursive: true, force: true });
    });

    it('CLI: output, the exit code, -e/-w/-u, the container\'s env and cwd by default', () => {
      let r = cli('exec', id, '--', 'sh', '-c', 'echo $FROM_RUN $X; pwd; id -un; exit 3');
      assert.equal(r.status, 3, r.stderr);
      assert.equal(r.stdout, '1\n/root\nroot\n');
      r = cli('exec', '-e', 'X=y', '-w', '/tmp', '-u', 'user:extra', id, 'sh', '-c', 'echo $FROM_RUN $X; pwd; id -u; id -g; echo $HOME');
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '1 y\n/tmp\n1000\n2000\n/home/user\n');
      r = cli('exec', '-i', id, '--', 'tr', 'a-z', 'A-Z');
      assert.equal(r.status, 0);
      r = spawnSync(CLI, ['--root', TEST_ROOT, 'exec', '-i', id, '--', 'tr', 'a-z', 'A-Z'], { input: 'piped\n', encoding: 'utf8' });
      assert.equal(r.stdout, 'PIPED\n');
      r = cli('exec', id, '--', 'no-such-program');
      assert.equal(r.status, 127);
      assert.match(r.stderr, /^execdriver: container \S+: exec: executable "no-such-program" not found in the container/);
    });

    it('CLI: an unknown id is 125, one line; nothing is created', () => {
      const r = cli('exec', 'no-such-container-x', '--', 'true');
      assert.equal(r.status, 125);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /no such container/);
      assert.equal(existsSync(join(TEST_ROOT, driverName, 'no-such-container-x')), false);
    });

    it('CLI -d: prints the exec id, output in its log; its state goes with the container', async () => {
      const c = uniqueId(`exd${driverName.slice(0, 2)}`);
      await driver.start({ id: c, rootfs: rootfs.dir, network: { mode: 'none' }, entrypoint: 'sleep', arguments: ['1000'] }, { detach: true });
      try {
        const r = cli('exec', '-d', c, '--', 'sh', '-c', 'echo detached-out; echo detached-err >&2; sleep 1000');
        assert.equal(r.status, 0, r.stderr);
        const execId = r.stdout.trim();
        assert.match(execId, /^[0-9a-f]{12}$/);
        const dir = join(TEST_ROOT, driverName, c, 'exec', execId);
        await until(() => existsSync(join(dir, 'exec.log')) && /detached-err/.test(readFileSync(join(dir, 'exec.log'), 'utf8')), 10_000, 'the log');
        assert.match(readFileSync(join(dir, 'exec.log'), 'utf8'), /detached-out/);
        const pid = (JSON.parse(readFileSync(join(dir, 'exec.json'), 'utf8')) as { pid: number }).pid;
        assert.ok(alive(pid));
        await driver.terminate(c);
        assert.equal(alive(pid), false);
        assert.equal(existsSync(join(TEST_ROOT, driverName, c)), false);
      } finally {
        await driver.delete(c, { force: true }).catch(() => {});
      }
    });

    it('a container\'s symlinks to host paths never make exec read or run host files', async () => {
      // the container replaces its /etc/passwd with a link to a host file, and puts a link to a
      // host directory on its PATH
      let r = capture();
      let h = await driver.exec(id, { args: ['sh', '-c', `cp /etc/passwd /etc/passwd.real; rm /etc/passwd; ln -s ${secret} /etc/passwd; mkdir -p /evil; ln -sfn ${hostBin} /evil/bin`] }, { pipes: r.pipes });
      assert.equal((await h.exited).exitCode, 0, r.err());
      try {
        await assert.rejects(driver.exec(id, { args: ['id'], user: 'hostuser' }), (e: Error & { code: string }) => {
          assert.equal(e.code, 'ERR_INVALID_CONFIG');
          assert.match(e.message, /unknown user "hostuser"/);
          return true;
        });
        await assert.rejects(driver.exec(id, { args: ['pwned'], env: ['PATH=/evil/bin'] }), (e: Error & { exitCode: number }) => e.exitCode === 127);
        await assert.rejects(driver.exec(id, { args: ['/evil/bin/pwned'] }), (e: Error & { exitCode: number }) => e.exitCode === 127);
        // a link inside the container is followed as the container sees it
        h = await driver.exec(id, { args: ['sh', '-c', 'rm /etc/passwd; ln -s /etc/passwd.real /etc/passwd'] });
        assert.equal((await h.exited).exitCode, 0);
        r = capture();
        h = await driver.exec(id, { args: ['id', '-u'], user: 'user' }, { pipes: r.pipes });
        await h.exited;
        assert.equal(r.out(), '1000\n');
      } finally {
        rmSync(join(rootfs.dir, 'evil'), { recursive: true, force: true });
        if (existsSync(join(rootfs.dir, 'etc/passwd.real'))) {
          rmSync(join(rootfs.dir, 'etc/passwd'), { force: true });
          writeFileSync(join(rootfs.dir, 'etc/passwd'), readFileSync(join(rootfs.dir, 'etc/passwd.real')));
          rmSync(join(rootfs.dir, 'etc/passwd.real'));
        }
      }
      assert.equal(readFileSync(secret, 'utf8'), 'hostuser:x:4242:4242::/:/bin/sh\n');
    });

    it('a paused (frozen) container: a clear error, exit 1, nothing created', async () => {
      const freezer = cgroupDirsOf(initPid).find(([k]) => k.split(',').includes('freezer'))?.[1];
      const v2 = cgroupDirsOf(initPid).find(([k]) => k === '')?.[1];
      const file = freezer ? join(freezer, 'freezer.state') : join(v2!, 'cgroup.freeze');
      writeFileSync(file, freezer ? 'FROZEN' : '1');
      try {
        const before = readdirSync(join(TEST_ROOT, driverName, id)).sort();
        await assert.rejects(driver.exec(id, { args: ['true'] }), (e: Error & { code: string; exitCode: number }) => {
          assert.match(e.message, /paused/);
          assert.equal(e.exitCode, 1);
          return true;
        });
        const r = cli('exec', id, '--', 'true');
        assert.equal(r.status, 1);
        assert.match(r.stderr, /is paused/);
        assert.deepEqual(readdirSync(join(TEST_ROOT, driverName, id)).sort(), before);
      } finally {
        writeFileSync(file, freezer ? 'THAWED' : '0');
      }
    });

    it('--privileged: every host capability, no seccomp filter', async () => {
      const r = capture();
      const h = await driver.exec(id, { args: ['grep', '-E', '^(CapEff|Seccomp):', '/proc/self/status'], privileged: true }, { pipes: r.pipes });
      await h.exited;
      const host = readFileSync('/proc/self/status', 'utf8');
      assert.match(r.out(), new RegExp(`CapEff:\\s+${/^CapBnd:\s+(\S+)/m.exec(host)![1]}`));
      assert.match(r.out(), /Seccomp:\s+0/);
    });

    it('tty: resize reaches the terminal', async () => {
      const r = capture();
      const h = await driver.exec(id, { args: ['sh', '-c', 'stty size; sleep 0.5; stty size'], tty: true, consoleSize: { rows: 20, cols: 60 } }, { pipes: r.pipes });
      await until(() => /20 60/.test(r.out()), 5000, 'the first size');
      h.resize(33, 101);
      assert.equal((await h.exited).exitCode, 0);
      assert.match(r.out(), /20 60\r?\n33 101/);
    });

    it('events: exec_start and exec_die in the state root\'s log', async () => {
      const h = await driver.exec(id, { args: ['sh', '-c', 'exit 5'] });
      await h.exited;
      const lines = readFileSync(eventsFile(TEST_ROOT), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const mine = lines.filter((e) => e['execId'] === h.execId);
      assert.deepEqual(mine.map((e) => e['type']), ['exec_start', 'exec_die']);
      assert.equal(mine[0]!['pid'], h.pid);
      assert.equal(mine[1]!['exitCode'], 5);
      assert.equal(mine[1]!['id'], id);
      assert.equal(existsSync(join(TEST_ROOT, driverName, id, 'exec', h.execId)), false);
    });

    it('a container with a user namespace (--userns=remap): the same namespaces, root inside', async () => {
      const c = uniqueId(`exu${driverName.slice(0, 2)}`);
      const started = await driver.start({ id: c, rootfs: rootfs.dir, network: { mode: 'none' }, entrypoint: 'sleep', arguments: ['1000'], userns: 'remap' }, { detach: true });
      try {
        const r = capture();
        const h = await driver.exec(c, { args: ['sh', '-c', 'id -u; readlink /proc/self/ns/user; readlink /proc/self/ns/mnt; cat /proc/self/uid_map'] }, { pipes: r.pipes });
        assert.equal((await h.exited).exitCode, 0, r.err());
        const [uid, user, mnt] = r.out().split('\n');
        assert.equal(uid, '0');
        assert.equal(user, spawnSync('readlink', [`/proc/${started.pid}/ns/user`], { encoding: 'utf8' }).stdout.trim());
        assert.equal(mnt, spawnSync('readlink', [`/proc/${started.pid}/ns/mnt`], { encoding: 'utf8' }).stdout.trim());
        // its host uid is the mapped one, not host root
        const h2 = await driver.exec(c, { args: ['sleep', '100'] });
        assert.notEqual(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${h2.pid}/status`, 'utf8'))![1], '0');
        await h2.kill();
        await h2.exited;
      } finally {
        await driver.terminate(c).catch(() => {});
      }
    });
  });
}
