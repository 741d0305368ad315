/**
 * Rootless: a non-root user (`execdriver-rl`, made here if missing, with a subordinate range)
 * runs the command line; the tests, as root, run it through `runuser` and check what the host sees.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, makeRootfs, uniqueId, until } from '../helpers.js';
import { TestNetns } from './slirp.js';

const USER = 'execdriver-rl';

/** The test user and its ranges: a free range after every other one (as scripts/setup.sh picks). */
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

describe('rootless: both drivers run by a non-root user', () => {
  let me: { uid: number; gid: number };
  let rootfs: string;
  let xdg: string;
  let made: { dir: string; cleanup: () => void };
  /** The CLI as the test user; env: what it gets besides PATH (XDG_RUNTIME_DIR unless null). */
  const cli = (args: string[], opts: { xdg?: string | null; netns?: TestNetns } = {}) => {
    const env = ['PATH=/usr/bin:/bin', ...(opts.xdg === null ? [] : [`XDG_RUNTIME_DIR=${opts.xdg ?? xdg}`])];
    const argv = ['runuser', '-u', USER, '--', 'env', '-i', ...env, process.execPath, CLI, ...args];
    const [file, ...rest] = opts.netns ? opts.netns.wrap(argv) : argv;
    return spawnSync(file!, rest, { encoding: 'utf8', timeout: 30_000 });
  };
  const leftovers = () => {
    // processes of the user that still run (a zombie is gone: only the host's init has yet to reap it)
    const procs = spawnSync('ps', ['-o', 'pid=,stat=', '-u', USER], { encoding: 'utf8' })
      .stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter(([pid, stat]) => pid && !stat?.startsWith('Z')).map(([pid]) => pid).join(' ');
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(rootfs));
    const state = ['native', 'lxc'].flatMap((d) => (existsSync(join(xdg, 'execdriver', d)) ? readdirSync(join(xdg, 'execdriver', d)) : []));
    return { procs, mounts, state };
  };

  before(() => {
    me = ensureUser();
    made = makeRootfs();
    rootfs = mkdtempSync(join(tmpdir(), 'execdriver-rl-rootfs-'));
    cpSync(made.dir, rootfs, { recursive: true, verbatimSymlinks: true });
    execFileSync('chown', ['-R', `${me.uid}:${me.gid}`, rootfs]);
    xdg = mkdtempSync(join(tmpdir(), 'execdriver-rl-xdg-'));
    chownSync(xdg, me.uid, me.gid);
  });
  after(() => {
    made.cleanup();
    rmSync(rootfs, { recursive: true, force: true });
    rmSync(xdg, { recursive: true, force: true });
  });

  for (const driver of ['native', 'lxc']) it(`${driver}: a busybox container runs and exits with its code; root inside, pid 1, its hostname, no host files`, () => {
    const r = cli(['--driver', driver, 'run', '--rootfs', rootfs, '--hostname', 'rlbox', '--', 'sh', '-c',
      'echo "$$ $(id -u) $(hostname)"; cat /proc/1/cmdline | tr "\\0" " "; echo; ls /work /home 2>&1 | head -1; stat -c %u /bin/busybox; exit 7']);
    assert.equal(r.status, 7, r.stderr);
    const [first, cmdline, work, owner] = r.stdout.split('\n');
    assert.equal(first, '1 0 rlbox');
    assert.equal(cmdline, 'sh -c echo "$$ $(id -u) $(hostname)"; cat /proc/1/cmdline | tr "\\0" " "; echo; ls /work /home 2>&1 | head -1; stat -c %u /bin/busybox; exit 7 ');
    assert.match(work!, /No such file or directory/);
    assert.equal(owner, '0', "the caller's own files are root's inside");
    assert.deepEqual(leftovers(), { procs: '', mounts: [], state: [] });
  });

  for (const driver of ['native', 'lxc']) it(`${driver}: on the host the container runs as the caller's uid; kill, pids, wait, delete work; nothing is left`, async () => {
    const id = uniqueId('userns-rl');
    const d = ['--driver', driver];
    const r = cli([...d, 'run', '-d', '--id', id, '--rootfs', rootfs, '--', 'sh', '-c', 'sleep 300 & sleep 301; true']);
    try {
    assert.equal(r.status, 0, r.stderr);
    const pids = (await until(() => {
      const p = cli([...d, 'pids', id]).stdout.trim().split('\n').filter(Boolean).map(Number);
      return p.length === 3 ? p : undefined;
    }, 10_000, 'three processes'))!;
    for (const pid of pids) assert.equal(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1], String(me.uid));
    assert.equal(cli([...d, 'kill', id, 'KILL']).status, 0);
    const w = cli([...d, 'wait', id]);
    assert.equal(w.stdout.trim(), '137');
    assert.equal(cli([...d, 'delete', id]).status, 0);
    } finally {
      cli([...d, 'delete', '--force', id]);
    }
    assert.deepEqual(leftovers(), { procs: '', mounts: [], state: [] });
  });

  it('a terminal (-t) and --init work rootless', () => {
    const r = cli(['run', '-t', '--init', '--rootfs', rootfs, '--', 'sh', '-c', 'tty; echo "pid $$"; exit 3']);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r\npid (?!1\r)\d+\r\n$/);
    assert.deepEqual(leftovers(), { procs: '', mounts: [], state: [] });
  });

  it('what needs root is one line saying so', () => {
    for (const [args, re] of [
      [['--net', 'bridge'], /^execdriver: container \S+: rootless: bridge networking needs root/],
      [['-m', '64m'], /^execdriver: container \S+: rootless: cgroup limits \(memory\) cannot be enforced/],
      [['--pids-limit', '5'], /rootless: cgroup limits \(pidsLimit\)/],
      [['--privileged'], /rootless: --privileged needs root/],
      [['--userns', 'host'], /rootless: --userns=host needs root/],
    ] as const) {
      const r = cli(['run', '--rootfs', rootfs, ...args, '--', 'true']);
      assert.equal(r.status, 125, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    for (const [args, re] of [
      [['-m', '64m'], /rootless: cgroup limits \(memory\) cannot be enforced/],
      [['-t'], /rootless: a terminal \(-t\) on the lxc driver needs root/],
      [['--net', 'slirp4netns'], /slirp4netns is for the native driver only/],
    ] as const) {
      const l = cli(['--driver', 'lxc', 'run', '--rootfs', rootfs, ...args, '--', 'true']);
      assert.equal(l.status, 125, `lxc ${args.join(' ')}: ${l.stderr}`);
      assert.match(l.stderr, re);
      assert.equal(l.stderr.trim().split('\n').length, 1, l.stderr);
    }
    assert.deepEqual(leftovers(), { procs: '', mounts: [], state: [] });
  });

  it('--net slirp4netns: a tap0 of its own reaches a server in a namespace the test made; not the host loopback', async () => {
    const tunMode = statSync('/dev/net/tun').mode & 0o777;
    if (!(tunMode & 0o006)) {
      // slirp4netns opens /dev/net/tun as the user: refused in one line while it is root's only
      const r = cli(['run', '--rootfs', rootfs, '--net', 'slirp4netns', '--', 'true']);
      assert.equal(r.status, 125);
      assert.match(r.stderr.trim(), /^execdriver: container \S+: rootless: --net slirp4netns needs \/dev\/net\/tun readable and writable by uid \d+ \(it is mode 0600 here/);
    }
    const netns = new TestNetns();
    netns.create();
    chmodSync('/dev/net/tun', tunMode | 0o666); // Debian's udev default, for this test only
    try {
      const server = netns.serve(7788);
      await server.ready;
      const r = cli(['run', '--rootfs', rootfs, '--net', 'slirp4netns', '--', 'sh', '-c',
        `ip -4 addr show tap0 | grep -o "inet [0-9./]*"; echo hello-rootless | nc ${netns.address} 7788 && echo sent; nc -w 2 10.0.2.2 7788 </dev/null 2>/dev/null || echo no-host-loopback`], { netns });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'inet 10.0.2.100/24\nsent\nno-host-loopback\n');
      assert.equal(await server.received, 'hello-rootless\n');
      await until(() => leftovers().procs === '', 5000, 'slirp4netns to exit');
      assert.deepEqual(leftovers(), { procs: '', mounts: [], state: [] });
    } finally {
      chmodSync('/dev/net/tun', tunMode);
      netns.remove();
    }
  });

  it('without XDG_RUNTIME_DIR the state root is /tmp/execdriver-UID, made 0700', () => {
    const dir = `/tmp/execdriver-${me.uid}`;
    rmSync(dir, { recursive: true, force: true });
    try {
      const r = cli(['run', '--rootfs', rootfs, '--', 'true'], { xdg: null });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(existsSync(dir), true);
      assert.equal(execFileSync('stat', ['-c', '%u %a', dir], { encoding: 'utf8' }).trim(), `${me.uid} 700`);
      assert.deepEqual(readdirSync(join(dir, 'native')), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
