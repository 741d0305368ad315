/**
 * The lxc driver with real LXC 5 containers on a busybox rootfs. Each test checks that the
 * container left nothing behind: no `<root>/lxc/<id>`, no `lxc.payload.<id>` / `lxc.monitor.<id>`
 * cgroup, no veth. Traffic only between this test's own containers, on its own bridge.
 */
import assert from 'node:assert/strict';
import { monitorName, payloadName } from '../../src/lxc/cgroup.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Command } from '../../src/driver.js';
import { createDriverFrom } from '../../src/driver.js';
import { LxcDriver } from '../../src/lxc/index.js';
import { chooseSubnet, hostUsedCidrs, removeBridgeIfUnused } from '../../src/network/index.js';
import { capture, makeRootfs, TEST_ROOT, uniqueId, until } from '../helpers.js';

const CGROUP_MOUNTS = readFileSync('/proc/self/mountinfo', 'utf8')
  .split('\n')
  .filter((l) => / - cgroup2? /.test(l))
  .map((l) => l.split(' ')[4]!);

const BRIDGE = `edlb${process.pid % 100000}`;
const PTY_HELPER = fileURLToPath(new URL('../../../test/pty-session.py', import.meta.url));
const LXC_MODULE = fileURLToPath(new URL('../../src/lxc/index.js', import.meta.url));

function leftovers(id: string): string[] {
  const left: string[] = [];
  if (existsSync(join(TEST_ROOT, 'lxc', id))) left.push(join(TEST_ROOT, 'lxc', id));
  for (const m of CGROUP_MOUNTS) {
    for (const n of [payloadName(TEST_ROOT, id), monitorName(TEST_ROOT, id)]) if (existsSync(join(m, n))) left.push(join(m, n));
  }
  return left;
}

function veths(): string[] {
  return execFileSync('ip', ['-o', 'link', 'show', 'type', 'veth'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':')[1]!.trim().split('@')[0]!);
}

describe('lxc driver (LXC 5, real containers)', () => {
  let driver: LxcDriver;
  let rootfs: { dir: string; cleanup: () => void };
  let vol: string;
  let subnet: string;
  const used: string[] = [];
  const cmd = (over: Partial<Command> & { entrypoint: string }): Command & { id: string } => {
    const id = uniqueId('lx');
    used.push(id);
    return { id, rootfs: rootfs.dir, network: { mode: 'none' }, ...over };
  };
  const sh = (script: string, over: Partial<Command> = {}) => cmd({ entrypoint: 'sh', arguments: ['-c', script], ...over });
  const runOut = async (c: Command & { id: string }) => {
    const cap = capture();
    const status = await driver.run(c, cap.pipes);
    assert.deepEqual(leftovers(c.id), [], 'nothing left after the run');
    return { status, out: cap.out(), err: cap.err() };
  };

  before(async () => {
    driver = new LxcDriver({ root: TEST_ROOT });
    rootfs = makeRootfs();
    vol = mkdtempSync(join(tmpdir(), 'execdriver-vol-lxc '));
    writeFileSync(join(vol, 'hello'), 'from the host\n');
    subnet = chooseSubnet(await hostUsedCidrs(), { prefixLen: 24 });
  });

  after(async () => {
    for (const id of used) {
      if (existsSync(join(TEST_ROOT, 'lxc', id))) await driver.terminate(id).catch(() => {});
    }
    rootfs.cleanup();
    rmSync(vol, { recursive: true, force: true });
    await removeBridgeIfUnused(BRIDGE, { stateRoot: TEST_ROOT });
  });

  it('name() is lxc-<version of lxc-start>', () => {
    const v = execFileSync('lxc-start', ['--version'], { encoding: 'utf8' }).trim();
    assert.equal(driver.name(), `lxc-${v}`);
  });

  it('is registered as "lxc"; a missing LXC is ERR_DRIVER_UNAVAILABLE when the driver is made', () => {
    assert.ok(createDriverFrom('lxc', { root: TEST_ROOT }) instanceof LxcDriver);
    assert.throws(
      () => new LxcDriver({ root: TEST_ROOT, toolsDir: '/nonexistent-lxc-tools' }),
      (e: Error & { code: string }) => e.code === 'ERR_DRIVER_UNAVAILABLE' && /lxc-start/.test(e.message),
    );
  });

  it('exit 3 → 3; the command is pid 1; hostname', async () => {
    const { status, out } = await runOut(sh('echo $$; hostname; exit 3', { hostname: 'lxcbox' }));
    assert.equal(status.exitCode, 3);
    assert.equal(status.signal, undefined);
    assert.deepEqual(out.trim().split('\n'), ['1', 'lxcbox']);
  });

  it('init: true puts LXC\'s init at pid 1 (lxc-execute); a signal death inside → 137', async () => {
    const { out } = await runOut(sh('echo $$; cat /proc/1/comm', { init: true }));
    assert.equal(out.trim().split('\n')[0], '2');
    const s = await driver.run(sh('kill -KILL $$; sleep 5', { init: true }));
    assert.equal(s.exitCode, 137);
  });

  it('a signal death is 137 + SIGKILL (killed from outside)', async () => {
    const c = cmd({ entrypoint: 'sleep', arguments: ['100'] });
    const s = await driver.run(c, {}, () => {
      void driver.kill(c.id, 'SIGKILL');
    });
    assert.equal(s.exitCode, 137);
    assert.equal(s.signal, 'SIGKILL');
    assert.deepEqual(leftovers(c.id), []);
  });

  it('environment from the config only; user 1000:1000; working directory; raw lines', async () => {
    const { out } = await runOut(
      sh('env | sort; id; pwd', {
        env: ['FOO=bar baz'],
        user: '1000:1000',
        workingDir: '/tmp',
        config: { lxc: ['lxc.environment = RAWLINE=yes'] },
      }),
    );
    assert.match(out, /^FOO=bar baz$/m);
    assert.match(out, /^RAWLINE=yes$/m);
    assert.match(out, /^PATH=/m);
    assert.match(out, /^HOME=\/home\/user$/m);
    assert.doesNotMatch(out, /NODE|npm_/);
    assert.match(out, /^uid=1000\(user\) gid=1000/m);
    assert.match(out, /^\/tmp$/m);
  });

  it('read-only rootfs refuses writes; a volume (path with a space) is there, rw and ro', async () => {
    const ro = await runOut(sh('touch /x 2>/dev/null && echo wrote || echo refused', { readonlyRootfs: true }));
    assert.equal(ro.out.trim(), 'refused');
    const rw = await runOut(
      sh('cat /data/in\\ here/hello && echo written > "/data/in here/new"', {
        mounts: [{ source: vol, destination: '/data/in here' }],
      }),
    );
    assert.equal(rw.status.exitCode, 0, rw.err);
    assert.equal(rw.out, 'from the host\n');
    assert.equal(readFileSync(join(vol, 'new'), 'utf8'), 'written\n');
    const rovol = await runOut(
      sh('cat /v/hello >/dev/null && echo no > /v/g 2>/dev/null', {
        readonlyRootfs: true,
        mounts: [{ source: vol, destination: '/v', writable: false }],
      }),
    );
    assert.notEqual(rovol.status.exitCode, 0);
    assert.ok(!existsSync(join(vol, 'g')));
  });

  it('memory limit: OOM kill → 137, SIGKILL, oomKilled', async () => {
    const { status } = await runOut(
      cmd({
        entrypoint: 'dd',
        arguments: ['if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'],
        resources: { memory: 32 * 1024 * 1024, memorySwap: 32 * 1024 * 1024 },
      }),
    );
    assert.equal(status.exitCode, 137);
    assert.equal(status.signal, 'SIGKILL');
    assert.equal(status.oomKilled, true);
    const fine = await runOut(cmd({ entrypoint: 'true', resources: { memory: 32 * 1024 * 1024 } }));
    assert.deepEqual(fine.status, { exitCode: 0, oomKilled: false });
  });

  it("limits land in LXC's cgroup files (lxc.payload.<id>), each where this host has it", async () => {
    const c = cmd({
      entrypoint: 'sleep',
      arguments: ['1000'],
      resources: { memory: 64 << 20, memoryReservation: 32 << 20, cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000, cpusetCpus: '0', pidsLimit: 20 },
    });
    await driver.start(c, { detach: true });
    try {
      const read = (ctrl: string, file: string): string | undefined => {
        const m = CGROUP_MOUNTS.find((x) => x.split('/').pop()!.split(',').includes(ctrl));
        return m ? readFileSync(join(m, payloadName(TEST_ROOT, c.id), file), 'utf8').trim() : undefined;
      };
      const memV1 = read('memory', 'memory.limit_in_bytes');
      if (memV1 !== undefined) {
        assert.equal(memV1, String(64 << 20));
        assert.equal(read('memory', 'memory.soft_limit_in_bytes'), String(32 << 20));
        assert.equal(read('cpu', 'cpu.shares'), '512');
        assert.equal(read('cpu', 'cpu.cfs_quota_us'), '50000');
        assert.equal(read('cpuset', 'cpuset.cpus'), '0');
        assert.equal(read('pids', 'pids.max'), '20');
        assert.match(read('devices', 'devices.list') ?? '', /^c 1:3 rwm$/m);
      }
    } finally {
      await driver.terminate(c.id);
    }
  });

  it('a missing program → 127, a non-executable file → 126, nothing left', async () => {
    const a = cmd({ entrypoint: 'no-such-program' });
    await assert.rejects(driver.run(a), (e: Error & { exitCode: number; code: string }) => {
      assert.equal(e.code, 'ERR_EXEC_NOT_FOUND');
      assert.equal(e.exitCode, 127);
      assert.match(e.message, /no-such-program/);
      return true;
    });
    const b = cmd({ entrypoint: '/notexec' });
    await assert.rejects(driver.run(b), (e: Error & { exitCode: number }) => e.exitCode === 126);
    assert.deepEqual([...leftovers(a.id), ...leftovers(b.id)], []);
    // the monitors the spawner forked early (before the check refused the runs) are gone too
    const pids = (args: string[]) => spawnSync('pgrep', args, { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const spawner of pids(['-P', String(process.pid), '-f', 'execdriver-init spawner'])) assert.deepEqual(pids(['-P', spawner]), [], 'a monitor left');
  });

  it('a start failure reports LXC\'s reason (a key LXC 5 refuses) and leaves nothing', async () => {
    const c = cmd({ entrypoint: 'true', config: { lxc: ['lxc.network.type = veth'] } });
    await assert.rejects(driver.run(c), (e: Error & { code: string }) => {
      assert.equal(e.code, 'ERR_START_FAILED');
      assert.match(e.message, /Unsupported config key "lxc.network.type"/);
      return true;
    });
    assert.deepEqual(leftovers(c.id), []);
  });

  it("a cgroup name already taken (another LXC container's) is refused before LXC runs, and left alone", async () => {
    const c = cmd({ entrypoint: 'true' });
    const m = CGROUP_MOUNTS.find((x) => x.endsWith('/memory')) ?? CGROUP_MOUNTS[0]!;
    const taken = join(m, payloadName(TEST_ROOT, c.id));
    mkdirSync(taken);
    try {
      await assert.rejects(driver.run(c), (e: Error & { code: string }) => e.code === 'ERR_CGROUP' && e.message.includes(`${taken} already exists`));
      assert.equal(existsSync(taken), true, 'the other container\'s cgroup is untouched');
      assert.equal(existsSync(join(TEST_ROOT, 'lxc', c.id)), false);
    } finally {
      rmdirSync(taken);
    }
  });

  it('onStart: config.lxc in <root>/lxc/<id>, lxc-info RUNNING with the pid, pids from lxc.payload.<id>; stdin', async () => {
    const stdin = new PassThrough();
    const cap = capture();
    const c = cmd({ entrypoint: 'cat', rootfsMode: 'direct' });
    let checked: Promise<void> | undefined;
    const status = await driver.run(c, { ...cap.pipes, stdin }, (info) => {
      checked = (async () => {
        try {
          assert.ok(driver.info(c.id).isRunning());
          const config = readFileSync(join(TEST_ROOT, 'lxc', c.id, 'config.lxc'), 'utf8');
          assert.match(config, new RegExp(`^lxc\\.rootfs\\.path = dir:${rootfs.dir}$`, 'm'));
          const li = await driver.lxcInfo(c.id);
          assert.equal(li?.state, 'RUNNING');
          assert.equal(li?.pid, info.pid);
          const pids = await driver.getPidsForContainer(c.id);
          assert.deepEqual(pids, [info.pid]);
          const procs = readFileSync(join(CGROUP_MOUNTS.find((m) => m.endsWith('/memory')) ?? CGROUP_MOUNTS[0]!, payloadName(TEST_ROOT, c.id), 'cgroup.procs'), 'utf8');
          assert.equal(procs.trim(), String(info.pid));
          assert.ok(!existsSync(join('/var/lib/lxc', c.id)), 'nothing in /var/lib/lxc');
        } finally {
          stdin.end('through stdin\n');
        }
      })();
    });
    await checked;
    assert.equal(status.exitCode, 0);
    assert.equal(cap.out(), 'through stdin\n');
    assert.deepEqual(leftovers(c.id), []);
  });

  it('detached: kill TERM reaches a trap (exit 42 via wait); kill --all; terminate; nothing left', async () => {
    // the signal must come once the trap is set (before, pid 1 without a handler ignores it)
    const a = sh('trap "exit 42" TERM; touch /tmp/$HOSTNAME.trap; while :; do sleep 1; done', { rootfsMode: 'direct' });
    const sa = await driver.start(a, { detach: true });
    assert.ok(sa.pid > 0);
    assert.equal(driver.info(a.id).isRunning(), true);
    const ready = join(rootfs.dir, 'tmp', `${a.id.slice(0, 12)}.trap`);
    await until(() => existsSync(ready), 10_000, 'the trap to be set');
    rmSync(ready, { force: true });
    await driver.kill(a.id, 'SIGTERM');
    const s = await driver.wait(a.id, 20_000);
    assert.equal(s.exitCode, 42);
    assert.equal(driver.info(a.id).isRunning(), false);
    assert.equal(driver.inspect(a.id).status, 'exited');
    await driver.delete(a.id);
    assert.deepEqual(leftovers(a.id), []);

    const b = sh('sleep 1000 & sleep 1000 & wait', { init: true });
    await driver.start(b, { detach: true });
    await until(async () => (await driver.getPidsForContainer(b.id)).length >= 4, 10_000, 'init, sh and two sleeps');
    await driver.kill(b.id, 'SIGKILL', { all: true });
    const sb = await driver.wait(b.id, 20_000);
    assert.equal(sb.exitCode, 137);
    await driver.delete(b.id);
    assert.deepEqual(leftovers(b.id), []);

    const c = cmd({ entrypoint: 'sleep', arguments: ['1000'] });
    await driver.start(c, { detach: true });
    await driver.kill(c.id, 'SIGTERM'); // pid 1 without a handler: ignored
    assert.equal(driver.info(c.id).isRunning(), true);
    await driver.terminate(c.id);
    assert.equal(driver.info(c.id).isRunning(), false);
    await assert.rejects(driver.getPidsForContainer(c.id), (e: Error & { code: string }) => e.code === 'ERR_NOT_FOUND');
    assert.deepEqual(leftovers(c.id), []);
  });

  it('terminate of a foreground run: run() resolves 137 SIGKILL, nothing left', async () => {
    const c = cmd({ entrypoint: 'sleep', arguments: ['1000'] });
    let terminated: Promise<void> | undefined;
    const s = await driver.run(c, {}, () => {
      terminated = driver.terminate(c.id);
    });
    await terminated;
    assert.equal(s.exitCode, 137);
    assert.equal(s.signal, 'SIGKILL');
    assert.deepEqual(leftovers(c.id), []);
  });

  it('lxc-start killed (a crashed monitor): the container dies with it; wait says 137, delete removes its cgroups', async () => {
    const c = cmd({ entrypoint: 'sleep', arguments: ['1000'] });
    await driver.start(c, { detach: true });
    const rec = JSON.parse(readFileSync(join(TEST_ROOT, 'lxc', c.id, 'state.json'), 'utf8')) as { monitorPid: number; pid: number };
    process.kill(rec.monitorPid, 'SIGKILL');
    const s = await driver.wait(c.id, 20_000);
    assert.equal(s.exitCode, 137);
    assert.equal(s.signal, 'SIGKILL');
    await driver.delete(c.id);
    assert.deepEqual(leftovers(c.id), []);
  });

  it('a duplicate id is refused and the running one is untouched', async () => {
    const c = cmd({ entrypoint: 'sleep', arguments: ['1000'] });
    await driver.start(c, { detach: true });
    try {
      await assert.rejects(driver.run({ ...c }), (e: Error & { code: string }) => e.code === 'ERR_CONTAINER_EXISTS');
      assert.equal(driver.info(c.id).isRunning(), true);
    } finally {
      await driver.terminate(c.id);
    }
    assert.deepEqual(leftovers(c.id), []);
  });

  it("tty with the caller's own stdio on a terminal: LXC's console relayed, input after the start not lost", async () => {
    const script = join(vol, 'tty-run.mjs');
    const id = uniqueId('lt');
    used.push(id);
    writeFileSync(
      script,
      `import { LxcDriver } from ${JSON.stringify(LXC_MODULE)};
const d = new LxcDriver({ root: ${JSON.stringify(TEST_ROOT)} });
const s = await d.run({ id: ${JSON.stringify(id)}, rootfs: ${JSON.stringify(rootfs.dir)}, network: { mode: 'none' }, tty: true,
  entrypoint: 'sh', arguments: ['-c', 'test -t 0 && test -t 1 && echo "on a tty"; stty size; read x; echo "got $x"; exit 4'] },
  { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
process.stdout.write('status ' + s.exitCode + '\\n');
`,
    );
    // typed at once, before LXC has set up its terminal: held until the container runs
    const r = spawnSync('python3', [PTY_HELPER, '24', '80', '--', process.execPath, script], {
      input: `w ${Buffer.from('hello\n').toString('hex')}\n`,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.match(r.stdout, /on a tty/, r.stdout + r.stderr);
    assert.match(r.stdout, /24 80/);
    assert.match(r.stdout, /got hello/);
    assert.match(r.stdout, /status 4/);
    assert.deepEqual(leftovers(id), []);
  });

  it('capabilities: mount needs CAP_SYS_ADMIN; privileged has it', async () => {
    const plain = await runOut(sh('mkdir -p /mnt; mount -t tmpfs none /mnt 2>/dev/null'));
    assert.notEqual(plain.status.exitCode, 0);
    const priv = await runOut(sh('mkdir -p /mnt && mount -t tmpfs none /mnt', { privileged: true }));
    assert.equal(priv.status.exitCode, 0);
  });

  it('network none: only lo; host: the host\'s interfaces', async () => {
    const none = await runOut(sh('ls /sys/class/net'));
    assert.equal(none.out.trim(), 'lo');
    const host = await runOut(sh('ls /sys/class/net', { network: { mode: 'host' } }));
    assert.deepEqual(host.out.trim().split(/\s+/).sort(), readdirSync('/sys/class/net').sort());
  });

  it("network container:<id> joins another container's network namespace", async () => {
    const a = cmd({ entrypoint: 'sleep', arguments: ['1000'] });
    const sa = await driver.start(a, { detach: true });
    try {
      const { status, out } = await runOut(cmd({ entrypoint: 'readlink', arguments: ['/proc/self/ns/net'], network: { mode: `container:${a.id}` } }));
      assert.equal(status.exitCode, 0);
      assert.equal(out.trim(), readlinkSync(`/proc/${sa.pid}/ns/net`));
    } finally {
      await driver.terminate(a.id);
    }
  });

  it('bridge: eth0 with the allocated address and MTU; two containers talk; no veth left', async () => {
    const before = veths();
    const server = cmd({
      entrypoint: 'sh',
      arguments: ['-c', 'echo pong | nc -l -p 7777'],
      network: { mode: 'bridge', bridge: BRIDGE, subnet, mtu: 1400 },
    });
    const started = await driver.start(server, { detach: true });
    try {
      const rec = JSON.parse(readFileSync(join(TEST_ROOT, 'lxc', server.id, 'state.json'), 'utf8')) as { network: { ipAddress: string; hostInterface: string } };
      const ip = rec.network.ipAddress;
      assert.ok(veths().includes(rec.network.hostInterface), 'the host end is named as config.lxc says');
      const { status, out, err } = await runOut(
        sh(`ip -o addr show eth0; ip -o link show eth0; ip route; for i in 1 2 3 4 5 6 7 8 9 10; do nc ${ip} 7777 && break; sleep 0.2; done`, {
          network: { mode: 'bridge', bridge: BRIDGE, subnet, mtu: 1400 },
        }),
      );
      assert.equal(status.exitCode, 0, err);
      assert.match(out, /inet \d+\.\d+\.\d+\.\d+\/24/);
      assert.match(out, /mtu 1400/);
      assert.match(out, /^default via \S+ dev eth0/m);
      assert.match(out, /^pong$/m);
      assert.ok(started.pid > 0);
    } finally {
      await driver.terminate(server.id);
    }
    assert.deepEqual(leftovers(server.id), []);
    assert.deepEqual(veths().filter((v) => !before.includes(v)), []);
  });

  it('nothing of this suite is left: no -P entries, no LXC cgroups of its containers, no veth', () => {
    for (const id of used) assert.deepEqual(leftovers(id), [], id);
    mkdirSync(join(TEST_ROOT, 'lxc'), { recursive: true });
    const mine = readdirSync(join(TEST_ROOT, 'lxc')).filter((e) => used.includes(e));
    assert.deepEqual(mine, []);
  });
});
