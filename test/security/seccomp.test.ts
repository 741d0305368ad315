/**
 * seccomp, no-new-privileges and the session keyring, tried from inside real containers of both
 * drivers with test/security/probe.c.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../src/lxc/index.js';
import { createDriver, ExecDriverError, type Command, type ManagedDriver } from '../../src/index.js';
import { buildProbe, capture, CLI, makeRootfs, parseProbe, TEST_ROOT, uniqueId } from '../helpers.js';

/** Docker's 14 capabilities, asked for explicitly so that the results do not depend on our default set. */
const DOCKER_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'];
const DOCKER = { capDrop: ['ALL'], capAdd: DOCKER_CAPS };

/** What the default profile must deny (unshare-user last: once it worked, the probe has every capability). */
const BLOCKED = [
  'keyctl', 'add_key', 'request_key', 'mount-tmpfs', 'umount', 'swapon', 'reboot', 'bpf', 'perf_event_open',
  'open_by_handle_at', 'name_to_handle_at', 'setns', 'pivot_root', 'personality', 'clone-newns', 'userfaultfd',
  'settimeofday', 'socket-vsock', 'unshare-user',
];

const status = (out: string, key: string) => new RegExp(`^${key}:\\s*(\\S+)`, 'm').exec(out)?.[1];

for (const driverName of ['native', 'lxc'] as const) {
  describe(`seccomp, no-new-privileges, keyring: ${driverName} driver`, () => {
    let driver: ManagedDriver;
    let rootfs: { dir: string; cleanup: () => void };
    const cmd = (over: Partial<Command> & { entrypoint: string }): Command & { id: string } => ({
      id: uniqueId(`seccomp-${driverName.slice(0, 2)}`),
      rootfs: rootfs.dir,
      network: { mode: 'none' },
      ...over,
    });
    const run = async (over: Partial<Command> & { entrypoint: string }) => {
      const cap = capture();
      const s = await driver.run(cmd(over), cap.pipes);
      return { code: s.exitCode, out: cap.out(), err: cap.err() };
    };
    const sh = (script: string, over: Partial<Command> = {}) => run({ entrypoint: 'sh', arguments: ['-c', script], ...over });
    const probe = async (names: string[], over: Partial<Command> = {}) => {
      const r = await run({ entrypoint: 'probe', arguments: names, ...over });
      assert.equal(r.code, 0, r.err);
      return parseProbe(r.out);
    };

    before(() => {
      driver = createDriver(driverName, { root: TEST_ROOT });
      rootfs = makeRootfs();
      buildProbe(rootfs.dir);
    });
    after(() => rootfs.cleanup());

    it('a default container is filtered (Seccomp: 2) and every blocked call gets EPERM', async () => {
      const r = await sh('grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status', DOCKER);
      assert.equal(status(r.out, 'Seccomp'), '2');
      assert.equal(status(r.out, 'NoNewPrivs'), '0');
      const got = await probe(BLOCKED, DOCKER);
      assert.deepEqual(got, Object.fromEntries(BLOCKED.map((n) => [n, 'EPERM'])));
      // with the capabilities the default set has today, too (whatever they are)
      const def = await probe(['keyctl', 'add_key', 'mount-tmpfs', 'setns', 'clone-newns', 'userfaultfd', 'unshare-user']);
      assert.ok(Object.values(def).every((v) => v === 'EPERM'), JSON.stringify(def));
    });

    it('ordinary work still works: a pipeline, dd, chown, su to nobody, fork/exec, threads', async () => {
      const r = await sh(
        [
          'echo a b c | tr a-z A-Z | wc -w',
          'dd if=/dev/zero of=/tmp/f bs=1k count=4 2>/dev/null && wc -c < /tmp/f',
          'chown nobody /tmp/f && stat -c %U /tmp/f',
          'su nobody -s /bin/sh -c "id -u"',
          '(exit 4); echo $?',
          'probe clone-thread ptrace chroot mkdir',
          'ping -c 1 -W 2 127.0.0.1 >/dev/null && echo pinged',
        ].join('; '),
        DOCKER,
      );
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(r.out.trim().split('\n'), ['3', '4096', 'nobody', '65534', '4', 'clone-thread ok', 'ptrace ok', 'chroot ok', 'mkdir ok', 'pinged']);
    });

    it('--init and a tty container run under the filter', async () => {
      const i = await sh('sleep 0 & wait; grep ^Seccomp: /proc/self/status', { ...DOCKER, init: true });
      assert.equal(i.code, 0, i.err);
      assert.equal(status(i.out, 'Seccomp'), '2');
      const t = await sh('grep ^Seccomp: /proc/self/status; probe keyctl', { ...DOCKER, tty: true });
      assert.equal(t.code, 0);
      assert.match(t.out, /Seccomp:\s*2/);
      assert.match(t.out, /keyctl EPERM/);
    });

    it('a user other than root, with and without no-new-privileges', async () => {
      for (const noNewPrivileges of [false, true]) {
        const r = await sh('id -u; grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status; probe keyctl mkdir', { ...DOCKER, user: 'nobody', noNewPrivileges });
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, /^65534$/m);
        assert.equal(status(r.out, 'Seccomp'), '2');
        assert.equal(status(r.out, 'NoNewPrivs'), noNewPrivileges ? '1' : '0');
        assert.match(r.out, /keyctl EPERM/);
      }
    });

    it('cap-add SYS_ADMIN re-allows mount (in its own mount namespace)', async () => {
      const got = await probe(['mount-tmpfs', 'umount', 'keyctl'], { capDrop: ['ALL'], capAdd: [...DOCKER_CAPS, 'SYS_ADMIN'] });
      assert.deepEqual(got, { 'mount-tmpfs': 'ok', umount: 'ENOENT', keyctl: 'EPERM' });
    });

    it('privileged and seccomp=unconfined: no filter', async () => {
      for (const over of [{ privileged: true }, { seccomp: 'unconfined' as const }]) {
        const r = await sh('grep ^Seccomp: /proc/self/status', over);
        assert.equal(status(r.out, 'Seccomp'), '0', JSON.stringify(over));
      }
      const got = await probe(['keyctl', 'personality', 'socket-vsock'], { seccomp: 'unconfined' });
      assert.equal(got['keyctl'], 'ok');
      assert.equal(got['personality'], 'ok');
      // the kernel's own answer (no vsock transport here), not the filter's
      assert.notEqual(got['socket-vsock'], 'EPERM');
    });

    it('a custom profile (Docker format) denying mkdir with errno 1', async () => {
      const seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW' as const,
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' as const, errnoRet: 1 }],
      };
      const r = await sh('mkdir /tmp/nope; echo rc=$?; probe mkdir keyctl', { seccomp });
      assert.match(r.out, /rc=1/);
      assert.match(r.err, /Operation not permitted/);
      assert.match(r.out, /mkdir EPERM/);
      assert.match(r.out, /keyctl ok/);
    });

    it('a malformed profile is refused before anything is created', async () => {
      const c = cmd({ entrypoint: 'true', seccomp: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'BAD' }] }] } as never });
      await assert.rejects(driver.run(c), (e: unknown) => e instanceof ExecDriverError && e.code === 'ERR_INVALID_CONFIG' && /args\[0\]\.op "BAD"/.test(e.message));
      assert.ok(!existsSync(join(TEST_ROOT, driverName, c.id)), 'no state directory');
    });

    it('no-new-privileges: NoNewPrivs: 1', async () => {
      const r = await sh('grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status', { noNewPrivileges: true });
      assert.equal(status(r.out, 'NoNewPrivs'), '1');
      assert.equal(status(r.out, 'Seccomp'), '2');
    });

    it("a new session keyring: a key on the host's session keyring is not in the container's", async () => {
      const key = `execdriver-test-${process.pid}-${driverName}`;
      const probeBin = join(rootfs.dir, 'bin/probe');
      const host = (names: string[]) => parseProbe(execFileSync(probeBin, names, { encoding: 'utf8', env: { ...process.env, PROBE_KEY: key } }));
      // on the user-session keyring: what a process without a session keyring of its own (as this one) sees as its session keyring
      assert.equal(host(['add-key-user-session'])['add-key-user-session'], 'ok');
      try {
        const control = host(['keyctl-session'])['keyctl-session'];
        // the search runs in a fresh, empty keyring; the add goes into that one (gone with the container)
        const got = await probe(['keyctl-session', 'add_key'], { seccomp: 'unconfined', env: [`PROBE_KEY=${key}`] });
        assert.deepEqual(got, { 'keyctl-session': 'ENOKEY', add_key: 'ok' }, `the host's key is not visible (to a host process: ${control})`);
      } finally {
        host(['unlink-key-user-session']);
      }
      assert.equal(host(['keyctl-session'])['keyctl-session'], 'ENOKEY', 'the test key is gone');
    });
  });
}

describe('seccomp on the command line', () => {
  let rootfs: { dir: string; cleanup: () => void };
  let dir: string;
  before(() => {
    rootfs = makeRootfs();
    buildProbe(rootfs.dir);
    dir = mkdtempSync(join(tmpdir(), 'execdriver-seccomp-'));
  });
  after(() => {
    rootfs.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, '--root', TEST_ROOT, 'run', '--net', 'none', '--rootfs', rootfs.dir, ...args], { encoding: 'utf8' });

  it('--security-opt seccomp=FILE, seccomp=unconfined, no-new-privileges', () => {
    const file = join(dir, 'deny-mkdir.json');
    writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }));
    for (const driver of ['native', 'lxc']) {
      const r = cli('--driver', driver, '--security-opt', `seccomp=${file}`, '--', 'probe', 'mkdir', 'keyctl');
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'mkdir EPERM\nkeyctl ok\n');
      const u = cli('--driver', driver, '--security-opt', 'seccomp=unconfined', '--security-opt', 'no-new-privileges', '--', 'grep', '-E', '^(Seccomp|NoNewPrivs):', '/proc/self/status');
      assert.equal(u.status, 0, u.stderr);
      assert.match(u.stdout, /NoNewPrivs:\s*1\nSeccomp:\s*0/);
    }
  });

  it('a malformed profile, or an unknown option: exit 125 with one line naming what is wrong', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_PDP11'] }));
    const id = uniqueId('seccomp-cli');
    const r = cli('--id', id, '--security-opt', `seccomp=${bad}`, '--', 'true');
    assert.equal(r.status, 125);
    assert.match(r.stderr, /architectures\[0\] "SCMP_ARCH_PDP11" is not a known architecture/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.ok(!existsSync(join(TEST_ROOT, 'native', id)));
    writeFileSync(bad, '{ not json');
    assert.match(cli('--security-opt', `seccomp=${bad}`, '--', 'true').stderr, /not JSON/);
    const o = cli('--security-opt', 'apparmor=foo', '--', 'true');
    assert.equal(o.status, 125);
    assert.match(o.stderr, /invalid --security-opt "apparmor=foo"/);
    assert.equal(cli('--security-opt', 'no-new-privileges=maybe', '--', 'true').status, 125);
  });
});
