/**
 * Issue 12 (part cli): Docker's habits on the command line, on both drivers. The flags people
 * type (--name, --rm, -e VAR, --env-file, --tmpfs, -w created, --entrypoint, --ulimit, --sysctl,
 * --device, --shm-size, --group-add, --label), the verbs (stop, ps, rm, inspect, logs -f, wait,
 * kill -s), a bounded container.log, and bad input refused in one line with 125, nothing made.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, makeRootfs, TEST_ROOT, uniqueId } from '../helpers.js';
import { hostUsedCidrs, removeBridgeIfUnused } from '../../src/network/index.js';
import { formatCidr, overlaps, parseCidr, tryParseNetwork } from '../../src/network/subnet.js';
import { inspectBridge } from '../../src/network/bridge.js';

const DRIVERS = ['native', 'lxc'] as const;
const BRIDGE = 'edt-cli0';
/** a subnet this machine does not use (checked in before()) */
const SUBNET = '10.213.99.0/24';
let rootfs: { dir: string; cleanup: () => void };
const ENV_FILE = `/tmp/execdriver-cli-env-${process.pid}`;

const ed = (args: string[], env?: NodeJS.ProcessEnv): SpawnSyncReturns<string> =>
  spawnSync(CLI, ['--root', TEST_ROOT, ...args], { encoding: 'utf8', timeout: 120_000, ...(env ? { env } : {}) });
const stateDirs = (driver: string): string[] => {
  const dir = join(TEST_ROOT, driver);
  return existsSync(dir) ? readdirSync(dir).sort() : [];
};

describe('Docker habits on the command line (issue 12, cli)', () => {
  before(() => {
    rootfs = makeRootfs();
    writeFileSync(ENV_FILE, '# a comment\nBAR=from-file\n\nBAZ\n');
  });
  after(async () => {
    await removeBridgeIfUnused(BRIDGE, { stateRoot: TEST_ROOT });
    rootfs.cleanup();
    rmSync(ENV_FILE, { force: true });
  });

  for (const driver of DRIVERS) {
    const run = (args: string[], cmd: string[], env?: NodeJS.ProcessEnv) =>
      ed(['--driver', driver, 'run', '--net', 'none', '--rootfs', rootfs.dir, ...args, '--', ...cmd], env);

    it(`${driver}: --name --rm -e VAR --env-file --tmpfs -w (made) --entrypoint`, () => {
      const workdir = `/app/${uniqueId('cliw')}`;
      const r = ed(
        ['--driver', driver, 'run', '--net=none', `--rootfs=${rootfs.dir}`, '--name', 'web_1', '--rm', '-e', 'FOO', '--env-file', ENV_FILE,
          '--tmpfs', '/scratch', '-w', workdir, '-u', 'user', '--entrypoint', 'sh', '--', '-c',
          'echo "$FOO $BAR $BAZ"; pwd; stat -c %U "$PWD"; echo hi > /scratch/f && cat /scratch/f; grep " /scratch " /proc/mounts | cut -d" " -f3'],
        { ...process.env, FOO: 'foo-value', BAZ: 'baz-value' },
      );
      try {
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, `foo-value from-file baz-value\n${workdir}\nuser\nhi\ntmpfs\n`);
        assert.ok(!stateDirs(driver).includes('web_1'));
      } finally {
        rmSync(join(rootfs.dir, 'app'), { recursive: true, force: true });
      }
    });

    it(`${driver}: --ulimit, --sysctl, --device, --shm-size, --group-add seen inside`, () => {
      const r = run(
        ['--ulimit', 'nofile=1024:2048', '--ulimit=nproc=500', '--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.shmmax=123456789',
          '--device', '/dev/fuse', '--device', '/dev/null:/dev/mynull:rw', '--shm-size', '16m', '--group-add', 'extra', '--group-add', '3000'],
        ['sh', '-c', 'ulimit -n; ulimit -Hn; ulimit -u; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax; stat -c "%t:%T" /dev/fuse; echo x > /dev/mynull && echo null-ok; (exec 3</dev/fuse) && echo fuse-ok; grep " /dev/shm " /proc/mounts | grep -o "size=[0-9a-z]*"; id -G'],
      );
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '1024\n2048\n500\n1\n123456789\na:e5\nnull-ok\nfuse-ok\nsize=16384k\n0 2000 3000\n');
      // the host's own values are untouched
      assert.notEqual(spawnSync('cat', ['/proc/sys/kernel/shmmax'], { encoding: 'utf8' }).stdout.trim(), '123456789');
    });

    it(`${driver}: --mount type=tmpfs and type=bind,readonly`, () => {
      const r = run(['--mount', 'type=tmpfs,dst=/t,tmpfs-size=1m', '--mount', `type=bind,src=${rootfs.dir}/etc,dst=/hostetc,readonly`],
        ['sh', '-c', 'grep " /t " /proc/mounts | grep -o "size=[0-9a-z]*"; touch /hostetc/x 2>/dev/null || echo ro']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'size=1024k\nro\n');
    });

    it(`${driver}: stop -t 1 (137 without --init; a trapping shell's own code), ps -q, --filter label, wait, inspect, rm`, () => {
      const a = uniqueId('clis');
      const b = uniqueId('clis');
      assert.equal(run(['-d', '--name', a, '--label', 'app=web'], ['sleep', '1000']).status, 0);
      assert.equal(run(['-d', '--name', b], ['sh', '-c', 'trap "exit 7" TERM; while :; do sleep 0.1; done']).status, 0);
      try {
        const ps = ed(['ps', '-q']).stdout.split('\n');
        assert.ok(ps.includes(a) && ps.includes(b), ps.join(','));
        assert.equal(ed(['ps', '-q', '--filter', 'label=app=web']).stdout.trim().split('\n').filter((x) => x === a || x === b).join(), a);
        const t0 = Date.now();
        const stop = ed(['stop', '-t', '1', a, b]);
        const took = Date.now() - t0;
        assert.equal(stop.status, 0, stop.stderr);
        assert.ok(took >= 900 && took < 6000, `stop took ${took} ms`);
        const w = ed(['wait', a, b]);
        assert.equal(w.stdout, '137\n7\n');
        const info = JSON.parse(ed(['inspect', a]).stdout) as { signal: string; labels: Record<string, string>; stopSignal: string };
        assert.equal(info.signal, 'SIGKILL');
        assert.deepEqual(info.labels, { app: 'web' });
        assert.equal(info.stopSignal, 'SIGTERM');
        assert.equal(ed(['ps', '-q']).stdout.split('\n').filter((x) => x === a || x === b).length, 0);
        assert.equal(ed(['ps', '-a', '-q', '--filter', `id=${a}`]).stdout, `${a}\n`);
      } finally {
        ed(['rm', '-f', a, b]);
      }
      assert.ok(!stateDirs(driver).includes(a) && !stateDirs(driver).includes(b));
    });

    it(`${driver}: kill -s TERM (--init), wait prints 143; logs -f follows until the exit`, async () => {
      const id = uniqueId('clil');
      // --init: pid 1 forwards TERM to the command (a pid 1 without a handler would ignore it)
      assert.equal(run(['-d', '--init', '--name', id], ['sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done; exec sleep 100']).status, 0);
      try {
        const follow = spawn(CLI, ['--root', TEST_ROOT, 'logs', '-f', id], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        follow.stdout.on('data', (d: Buffer) => (out += d.toString()));
        const ended = new Promise<number | null>((res) => follow.on('close', res));
        const t0 = Date.now();
        while (!out.includes('line3') && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 100));
        assert.equal(out, 'line1\nline2\nline3\n');
        assert.equal(ed(['kill', '-s', 'TERM', id]).status, 0);
        assert.equal(await ended, 0); // -f ends with the container
        assert.equal(ed(['wait', id]).stdout, '143\n');
        // (lxc's init may add a line of its own at the exit)
        assert.match(ed(['logs', id]).stdout, /^line1\nline2\nline3\n/);
      } finally {
        ed(['rm', '-f', id]);
      }
    });

    it(`${driver}: -d --rm removes the container once it exits, without the CLI`, async () => {
      const id = uniqueId('clirm');
      assert.equal(run(['-d', '--rm', '--name', id], ['sleep', '0.3']).status, 0);
      const t0 = Date.now();
      while (stateDirs(driver).includes(id) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 200));
      assert.ok(!stateDirs(driver).includes(id), 'removed after its exit');
    });

    it(`${driver}: restart runs the same command again; attach without -t follows the output until the exit`, async () => {
      const id = uniqueId('clirs');
      assert.equal(run(['-d', '--name', id, '-e', 'X=1'], ['sh', '-c', 'echo start $X; trap "echo bye; exit 3" TERM; while :; do sleep 0.1; done']).status, 0);
      try {
        const r = ed(['restart', '-t', '5', id]);
        assert.equal(r.stdout, `${id}\n`, r.stderr);
        const t0 = Date.now();
        while (!ed(['logs', id]).stdout.includes('start 1') && Date.now() - t0 < 5000) await new Promise((res) => setTimeout(res, 100));
        assert.equal(ed(['logs', id]).stdout, 'start 1\n'); // a new run: the old output went with it
        const attach = spawn(CLI, ['--root', TEST_ROOT, 'attach', id], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        attach.stdout.on('data', (d: Buffer) => (out += d.toString()));
        const code = new Promise<number | null>((res) => attach.on('close', res));
        await new Promise((res) => setTimeout(res, 1000));
        assert.equal(ed(['kill', '-s', 'TERM', id]).status, 0);
        assert.equal(await code, 3);
        assert.equal(out, 'bye\n');
      } finally {
        ed(['rm', '-f', id]);
      }
    });

    it(`${driver}: create keeps a checked command (ps -a: created), start runs it detached, start again reruns it; rm forgets`, () => {
      const id = uniqueId('clicr');
      const c = ed(['--driver', driver, 'create', '--net', 'none', '--rootfs', rootfs.dir, '--name', id, '--', 'sh', '-c', 'echo ran; exit 5']);
      assert.equal(c.stdout, `${id}\n`, c.stderr);
      try {
        assert.ok(!stateDirs(driver).includes(id), 'nothing set up by create');
        assert.match(ed(['ps', '-a', '--filter', `id=${id}`]).stdout, new RegExp(`${id}\\s+${driver}\\s+-\\s+created`));
        assert.equal(ed(['create', '--net', 'none', '--rootfs', rootfs.dir, '--name', id, '--', 'true']).status, 125); // taken
        assert.equal(ed(['start', id]).stdout, `${id}\n`);
        assert.equal(ed(['wait', id]).stdout, '5\n');
        assert.equal(ed(['start', id]).status, 0);
        assert.equal(ed(['wait', id]).stdout, '5\n');
        assert.equal(ed(['logs', id]).stdout, 'ran\n');
      } finally {
        ed(['rm', '-f', id]);
      }
      const bad = ed(['create', '--net', 'none', '--rootfs', rootfs.dir, '--name', id, '--ulimit', 'nofile=x', '--', 'true']);
      assert.equal(bad.status, 125);
      const forgotten = uniqueId('clicr');
      assert.equal(ed(['create', '--net', 'none', '--rootfs', rootfs.dir, '--name', forgotten, '--', 'true']).status, 0);
      assert.equal(ed(['rm', forgotten]).status, 0);
      assert.equal(ed(['ps', '-a', '-q', '--filter', `id=${forgotten}`]).stdout, '');
      assert.ok(!existsSync(join(TEST_ROOT, 'created')));
    });

    it(`${driver}: cp both ways; a container's symlink never reaches a host file`, () => {
      const id = uniqueId('clicp');
      const host = `/tmp/execdriver-cli-cp-${process.pid}`;
      writeFileSync(`${host}.in`, 'to the container\n');
      assert.equal(run(['-d', '--name', id], ['sh', '-c', 'echo inside > /tmp/f; ln -s /etc/hostname /tmp/evil; ln -s / /tmp/up; sleep 100']).status, 0);
      try {
        let t0 = Date.now();
        while (ed(['cp', `${id}:/tmp/up`, '-']).stderr.includes('No such file') && Date.now() - t0 < 5000) spawnSync('sleep', ['0.1']);
        assert.equal(ed(['cp', `${host}.in`, `${id}:/tmp/`]).status, 0);
        assert.equal(ed(['exec', id, '--', 'cat', `/tmp/${host.split('/').pop()}.in`]).stdout, 'to the container\n');
        assert.equal(ed(['cp', `${id}:/tmp/f`, `${host}.out`]).status, 0);
        assert.equal(spawnSync('cat', [`${host}.out`], { encoding: 'utf8' }).stdout, 'inside\n');
        // through the container's own symlinks: its files, never the host's
        const up = ed(['cp', `${id}:/tmp/up/../../etc/passwd`, '-']);
        assert.equal(up.stdout, spawnSync('cat', [join(rootfs.dir, 'etc/passwd')], { encoding: 'utf8' }).stdout);
        const evil = ed(['cp', `${id}:/tmp/evil`, '-']); // the container has no /etc/hostname: not the host's
        assert.equal(evil.status, 125);
        assert.equal(evil.stdout, '');
        // a symlink as the target is replaced, never written through (test/cli/cp-dirs.test.ts has more)
        const write = ed(['cp', `${host}.in`, `${id}:/tmp/evil`]);
        assert.equal(write.status, 0, write.stderr);
        assert.equal(ed(['exec', id, '--', 'sh', '-c', 'test -L /tmp/evil || cat /tmp/evil']).stdout, 'to the container\n');
        t0 = 0;
      } finally {
        ed(['rm', '-f', id]);
        rmSync(`${host}.in`, { force: true });
        rmSync(`${host}.out`, { force: true });
      }
    });

    it(`${driver}: container.log is bounded (--log-opt max-size, max-file)`, () => {
      const id = uniqueId('clibig');
      assert.equal(run(['-d', '--name', id, '--log-opt', 'max-size=1m,max-file=3'], ['sh', '-c', 'head -c 20000000 /dev/zero | tr "\\0" x; echo; echo END']).status, 0);
      try {
        assert.equal(ed(['wait', id]).stdout, '0\n');
        const dir = join(TEST_ROOT, driver, id);
        const logs = readdirSync(dir).filter((f) => f.startsWith('container.log')).sort();
        assert.deepEqual(logs, ['container.log', 'container.log.1', 'container.log.2']);
        const total = logs.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
        assert.ok(total <= 3 * (1024 * 1024 + 65536), `${total} bytes kept`);
        assert.equal(ed(['logs', '--tail', '1', id]).stdout, 'END\n');
      } finally {
        ed(['rm', id]);
      }
    });
  }

  it('--dns, --dns-search, --add-host on a bridge (edt-cli0, made and removed by this test; no traffic)', async (t) => {
    const ours = parseCidr(SUBNET);
    const mine = (await inspectBridge(BRIDGE).catch(() => undefined))?.subnet;
    for (const cidr of await hostUsedCidrs()) {
      const n = tryParseNetwork(cidr);
      if (n && mine !== formatCidr(n) && overlaps(n, ours)) return t.skip(`${SUBNET} overlaps ${cidr} on this host`);
    }
    for (const driver of DRIVERS) {
      const r = ed(['--driver', driver, 'run', '--net', 'bridge', '--bridge', BRIDGE, '--subnet', SUBNET, '--dns', '10.0.0.53', '--dns-search', 'example.test',
        '--add-host', 'db:10.1.2.3', '--rootfs', rootfs.dir, '--', 'sh', '-c', 'grep -E "^(nameserver|search)" /etc/resolv.conf; tail -1 /etc/hosts']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'nameserver 10.0.0.53\nsearch example.test\n10.1.2.3\tdb\n');
    }
    const none = ed(['run', '--net', 'none', '--dns', '10.0.0.53', '--rootfs', rootfs.dir, '--', 'true']);
    assert.equal(none.status, 125);
    assert.match(none.stderr, /^execdriver: --dns, --dns-search, --add-host: only with --net bridge/);
  });

  it('bad input: one clear line naming the flag, 125, nothing created', () => {
    const cases: [string[], RegExp][] = [
      [['--ulimit', 'nofile=x'], /^execdriver: --ulimit "nofile=x": /],
      [['--device', '/nope'], /^execdriver: --device \/nope: no such device/],
      [['--sysctl', 'kernel.foo=1'], /^execdriver: --sysctl kernel\.foo: is not namespaced/],
      [['--mount', 'type=weird,dst=/x'], /^execdriver: --mount "type=weird,dst=\/x": unknown type "weird"/],
      [['--cpus', 'lots'], /^execdriver: --cpus "lots"/],
      [['--tmpfs', 'rel'], /^execdriver: --tmpfs "rel"/],
      [['--stop-signal', 'NOPE'], /^execdriver: --stop-signal "NOPE"/],
      [['--log-opt', 'max-file=0'], /^execdriver: --log-opt "max-file=0"/],
      [['--lxc-conf', 'lxc.environment = X=1'], /config\.lxc \(--lxc-conf\) is for the lxc driver/],
    ];
    const before = [...stateDirs('native'), ...stateDirs('lxc')];
    for (const [args, re] of cases) {
      const r = ed(['run', '-d', '--net', 'none', '--rootfs', rootfs.dir, '--name', 'clibad', ...args, '--', 'true']);
      assert.equal(r.status, 125, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.deepEqual([...stateDirs('native'), ...stateDirs('lxc')], before);
  });

  it('verbs validate ids (no hang, no fake container); kill with a bad signal is one line', () => {
    for (const v of [['wait', '..'], ['info', '../network'], ['kill', '..'], ['logs', '..'], ['stop', '..'], ['rm', '..'], ['inspect', 'a/b']]) {
      const r = ed(v);
      assert.equal(r.status, 125, v.join(' '));
      assert.match(r.stderr, /^execdriver: invalid container id/);
    }
    const k = ed(['kill', 'cli-nonexistent', '999']);
    assert.equal(k.status, 125);
    assert.equal(k.stderr, 'execdriver: signal: unknown signal 999 (1 to 64, or a name such as TERM)\n');
  });

  it('lxc: a failed start is one line of ours, not LXC\'s', () => {
    const r = ed(['--driver', 'lxc', 'run', '--net', 'none', '--rootfs', rootfs.dir, '--cpuset-cpus', '99', '--', 'true']);
    assert.equal(r.status, 125);
    assert.doesNotMatch(r.stderr, /^lxc-start:/m);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
});
