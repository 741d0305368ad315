/**
 * Integration tests against the real kernel (root only). Everything lives under a parent
 * `execdriver-test-<pid>` that is removed afterwards.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ContainerCgroup, hostLayout, type CgroupLayout } from '../../src/cgroups/index.js';
import { applyWrites } from '../../src/cgroups/setup.js';
import { ExecDriverError, InvalidConfigError } from '../../src/errors.js';

const MiB = 1024 * 1024;
const PARENT = `execdriver-test-${process.pid}`;
const isRoot = process.getuid?.() === 0;
const layout = isRoot ? hostLayout() : undefined;
const skip = !isRoot ? 'needs root' : layout!.v1.size === 0 && !layout!.v2 ? 'no cgroup filesystem' : false;

const children: ChildProcess[] = [];
function sleeper(): ChildProcess {
  const c = spawn('sleep', ['30'], { stdio: 'ignore' });
  children.push(c);
  return c;
}
const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve([c.exitCode, c.signalCode]) : once(c, 'exit');

const read = (path: string) => readFileSync(path, 'utf8').trim();

/** Every directory named `name` under PARENT in any hierarchy of `l`. */
function dirsNamed(l: CgroupLayout, name: string): string[] {
  const mounts = [...[...l.v1.values()].map((h) => h.mountpoint), ...(l.v2 ? [l.v2.mountpoint] : [])];
  return mounts.map((m) => join(m, PARENT, name)).filter((p) => existsSync(p));
}

/** remove() whatever a test left, then the parent itself. */
async function cleanup(l: CgroupLayout): Promise<void> {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const name of await ContainerCgroup.listNames(PARENT, l)) await ContainerCgroup.open({ layout: l, parent: PARENT, name }).remove();
  const mounts = [...[...l.v1.values()].map((h) => h.mountpoint), ...(l.v2 ? [l.v2.mountpoint] : [])];
  for (const m of mounts) {
    try {
      rmdirSync(join(m, PARENT));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

const isCgroupError = (re: RegExp) => (e: unknown) => e instanceof ExecDriverError && e.code === 'ERR_CGROUP' && re.test(e.message);

describe('ContainerCgroup on this host', { skip }, () => {
  const l = layout as CgroupLayout;
  const v1 = (controller: string) => [...l.v1.values()].find((h) => h.controllers.includes(controller));
  after(() => cleanup(l));

  it('creates a directory in every hierarchy and writes the limits', async () => {
    const cg = await ContainerCgroup.create({
      layout: l,
      parent: PARENT,
      name: 'limits',
      containerId: 'limits',
      resources: {
        memory: 64 * MiB,
        memoryReservation: 32 * MiB,
        ...(v1('memory') && existsSync(join(v1('memory')!.mountpoint, 'memory.memsw.limit_in_bytes')) ? { memorySwap: 96 * MiB } : {}),
        cpuShares: 512,
        cpuQuota: 50000,
        cpuPeriod: 200000,
        pidsLimit: 42,
      },
    });
    try {
      assert.deepEqual(dirsNamed(l, 'limits'), cg.paths);
      assert.equal(cg.paths.length, l.v1.size + (l.v2 ? 1 : 0));
      const mem = cg.pathOf('memory');
      if (mem && v1('memory')) {
        assert.equal(read(join(mem, 'memory.limit_in_bytes')), String(64 * MiB));
        assert.equal(read(join(mem, 'memory.soft_limit_in_bytes')), String(32 * MiB));
        if (existsSync(join(mem, 'memory.memsw.limit_in_bytes'))) assert.equal(read(join(mem, 'memory.memsw.limit_in_bytes')), String(96 * MiB));
        assert.equal(cg.oomCounterFile, join(mem, 'memory.oom_control'));
      }
      const cpu = cg.pathOf('cpu');
      if (cpu && v1('cpu')) {
        assert.equal(read(join(cpu, 'cpu.shares')), '512');
        assert.equal(read(join(cpu, 'cpu.cfs_period_us')), '200000');
        assert.equal(read(join(cpu, 'cpu.cfs_quota_us')), '50000');
      }
      const pids = cg.pathOf('pids');
      if (pids) assert.equal(read(join(pids, 'pids.max')), '42');
      const cpuset = cg.pathOf('cpuset');
      if (cpuset && v1('cpuset')) {
        // not asked for: copied from the parent, which was itself filled from the root
        const root = v1('cpuset')!.mountpoint;
        assert.equal(read(join(cpuset, 'cpuset.cpus')), read(join(root, 'cpuset.cpus')));
        assert.equal(read(join(cpuset, 'cpuset.mems')), read(join(root, 'cpuset.mems')));
        assert.equal(read(join(root, PARENT, 'cpuset.cpus')), read(join(root, 'cpuset.cpus')));
      }
      const devices = cg.pathOf('devices');
      if (devices) {
        assert.ok(cg.devicesEnforced);
        assert.deepEqual(read(join(devices, 'devices.list')).split('\n'), [
          'c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm',
          'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', 'c 4:0 rwm', 'c 4:1 rwm', 'c 136:* rwm', 'c 10:200 rwm',
        ]);
      }
    } finally {
      await cg.remove();
    }
    assert.deepEqual(dirsNamed(l, 'limits'), []);
  });

  it('writes an explicit cpuset and allows all devices when privileged', async () => {
    const cg = await ContainerCgroup.create({ layout: l, parent: PARENT, name: 'priv', devices: 'allow-all', resources: { cpusetCpus: '0', cpusetMems: '0' } });
    try {
      const devices = cg.pathOf('devices');
      if (devices) assert.equal(read(join(devices, 'devices.list')), 'a *:* rwm');
      const cpuset = cg.pathOf('cpuset');
      if (cpuset) assert.equal(read(join(cpuset, 'cpuset.cpus')), '0');
    } finally {
      await cg.remove();
    }
  });

  it('joins, lists, freezes, thaws and removes a real process', async () => {
    const cg = await ContainerCgroup.create({ layout: l, parent: PARENT, name: 'life' });
    const child = sleeper();
    await once(child, 'spawn');
    const pid = child.pid as number;
    await cg.join(pid);
    assert.deepEqual(await cg.pids(), [pid]);
    for (const f of cg.procsFiles) assert.ok(read(f).split('\n').includes(String(pid)), f);

    await cg.freeze();
    assert.equal(await cg.isFrozen(), true);
    const state = read(`/proc/${pid}/stat`).split(') ')[1]?.[0];
    if (v1('freezer')) {
      assert.equal(read(join(cg.pathOf('freezer')!, 'freezer.state')), 'FROZEN');
      assert.ok(state === 'D' || state === 'T', `state ${state}`); // TASK_FROZEN shows as D
    }
    await cg.thaw();
    assert.equal(await cg.isFrozen(), false);
    assert.equal(child.exitCode, null);

    await cg.remove();
    const [, signal] = await exited(child);
    assert.equal(signal, 'SIGKILL');
    assert.deepEqual(dirsNamed(l, 'life'), []);
    await cg.remove(); // idempotent
    assert.equal(await cg.exists(), false);
  });

  it('signals every process with killAll', async () => {
    const cg = await ContainerCgroup.create({ layout: l, parent: PARENT, name: 'sig' });
    try {
      const a = sleeper();
      const b = sleeper();
      await Promise.all([once(a, 'spawn'), once(b, 'spawn')]);
      await cg.join(a.pid as number);
      await cg.join(b.pid as number);
      assert.deepEqual(await cg.pids(), [a.pid, b.pid].sort((x, y) => (x as number) - (y as number)));
      assert.equal(await cg.killAll('SIGTERM'), 2);
      assert.deepEqual((await Promise.all([exited(a), exited(b)])).map((r) => r[1]), ['SIGTERM', 'SIGTERM']);
    } finally {
      await cg.remove();
    }
  });

  it('removes child cgroups and their processes', async () => {
    const cg = await ContainerCgroup.create({ layout: l, parent: PARENT, name: 'nested' });
    const sub = join(cg.paths[0]!, 'inner');
    mkdirSync(sub);
    if (cg.paths[0] === cg.pathOf('cpuset')) {
      writeFileSync(join(sub, 'cpuset.cpus'), read(join(cg.paths[0]!, 'cpuset.cpus')));
      writeFileSync(join(sub, 'cpuset.mems'), read(join(cg.paths[0]!, 'cpuset.mems')));
    }
    const child = sleeper();
    await once(child, 'spawn');
    await cg.join(child.pid as number);
    writeFileSync(join(sub, 'cgroup.procs'), String(child.pid));
    if (cg.paths[0] === cg.pathOf('memory') || l.mode === 'v2') assert.deepEqual(await cg.pids(), [child.pid]);
    await cg.remove();
    assert.equal((await exited(child))[1], 'SIGKILL');
    assert.deepEqual(dirsNamed(l, 'nested'), []);
  });

  it('refuses a name clash and leaves the existing cgroup untouched', async () => {
    const cg = await ContainerCgroup.create({ layout: l, parent: PARENT, name: 'clash', resources: { pidsLimit: 7 } });
    try {
      const child = sleeper();
      await once(child, 'spawn');
      await cg.join(child.pid as number);
      await assert.rejects(
        ContainerCgroup.create({ layout: l, parent: PARENT, name: 'clash', resources: { pidsLimit: 9 }, containerId: 'clash' }),
        (e: unknown) => isCgroupError(/^container clash: cgroup execdriver-test-\d+\/clash already exists: mkdir .*: EEXIST/)(e) && (e as ExecDriverError).errnoName === 'EEXIST',
      );
      assert.deepEqual(dirsNamed(l, 'clash'), cg.paths);
      assert.deepEqual(await cg.pids(), [child.pid]);
      const pids = cg.pathOf('pids');
      if (pids) assert.equal(read(join(pids, 'pids.max')), '7');
    } finally {
      await cg.remove();
    }
  });

  it('treats a leftover directory in one hierarchy as a clash and removes only what it created', async () => {
    const last = l.v2 ? l.v2.mountpoint : [...l.v1.values()].at(-1)!.mountpoint;
    mkdirSync(join(last, PARENT), { recursive: true });
    const stale = join(last, PARENT, 'stale');
    mkdirSync(stale);
    await assert.rejects(ContainerCgroup.create({ layout: l, parent: PARENT, name: 'stale' }), isCgroupError(/already exists: mkdir .*\/stale: EEXIST/));
    assert.deepEqual(dirsNamed(l, 'stale'), [stale]);
    assert.deepEqual(await ContainerCgroup.listNames(PARENT, l), ['stale']);
    await ContainerCgroup.open({ layout: l, parent: PARENT, name: 'stale' }).remove();
    assert.deepEqual(dirsNamed(l, 'stale'), []);
  });

  it('leaves nothing behind when a write fails', { skip: !v1('cpuset') && 'no v1 cpuset' }, async () => {
    await assert.rejects(
      ContainerCgroup.create({ layout: l, parent: PARENT, name: 'badcpu', containerId: 'badcpu', resources: { memory: 64 * MiB, cpusetCpus: '99' } }),
      (e: unknown) =>
        isCgroupError(/^container badcpu: cgroup cpuset: write 99 to \/.*\/badcpu\/cpuset\.cpus: E[A-Z]+/)(e) &&
        (e as ExecDriverError).step === 'cgroup cpuset.cpus',
    );
    assert.deepEqual(dirsNamed(l, 'badcpu'), []);
    assert.ok(!(await ContainerCgroup.listNames(PARENT, l)).includes('badcpu'));
  });

  it('rejects bad limits before creating anything', async () => {
    await assert.rejects(ContainerCgroup.create({ layout: l, parent: PARENT, name: 'tiny', resources: { memory: 1024 } }), InvalidConfigError);
    await assert.rejects(ContainerCgroup.create({ layout: l, parent: PARENT, name: '../x' }), InvalidConfigError);
    await assert.rejects(ContainerCgroup.create({ layout: l, parent: '../etc', name: 'x' }), InvalidConfigError);
    assert.deepEqual(dirsNamed(l, 'tiny'), []);
  });

  it('counts OOM kills', { skip: !l.v1.has('memory') && !l.v2?.controllers.includes('memory') && 'no memory controller' }, async () => {
    const cg = await ContainerCgroup.create({ layout: l, parent: PARENT, name: 'oom', resources: { memory: 32 * MiB } });
    try {
      assert.equal(await cg.oomKills(), 0);
      const hog = spawn(process.execPath, ['-e', "process.stdin.once('data', () => { const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1)); })"], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      children.push(hog);
      await once(hog, 'spawn');
      await cg.join(hog.pid as number);
      hog.stdin?.write('go\n');
      const [, signal] = await exited(hog);
      assert.equal(signal, 'SIGKILL');
      assert.ok((await cg.oomKills()) > 0);
    } finally {
      await cg.remove();
    }
  });

  it('lists container names under a parent', async () => {
    const a = await ContainerCgroup.create({ layout: l, parent: PARENT, name: 'list-b' });
    const b = await ContainerCgroup.create({ layout: l, parent: PARENT, name: 'list-a' });
    try {
      assert.deepEqual(await ContainerCgroup.listNames(PARENT, l), ['list-a', 'list-b']);
    } finally {
      await a.remove();
      await b.remove();
    }
    assert.deepEqual(await ContainerCgroup.listNames(PARENT, l), []);
    assert.deepEqual(await ContainerCgroup.listNames(`${PARENT}-none`, l), []);
  });
});

/** The host's cgroup2 tree on its own, as a pure-v2 host would be seen (only if it is mounted). */
describe('ContainerCgroup on the cgroup2 tree alone', { skip: skip || (!layout?.v2 && 'no cgroup2 mount') }, () => {
  const l: CgroupLayout = { mode: 'v2', v1: new Map(), ...(layout?.v2 ? { v2: layout.v2 } : {}) };
  after(() => cleanup(l));

  it('joins, freezes via cgroup.freeze, thaws and removes', async () => {
    const cg = await ContainerCgroup.create({ layout: l, parent: PARENT, name: 'v2life' });
    assert.deepEqual(cg.paths, [join(l.v2!.mountpoint, PARENT, 'v2life')]);
    const child = sleeper();
    await once(child, 'spawn');
    await cg.join(child.pid as number);
    assert.deepEqual(await cg.pids(), [child.pid]);
    await cg.freeze();
    assert.match(read(join(cg.paths[0]!, 'cgroup.events')), /^frozen 1$/m);
    await cg.thaw();
    assert.match(read(join(cg.paths[0]!, 'cgroup.events')), /^frozen 0$/m);
    await cg.remove();
    assert.equal((await exited(child))[1], 'SIGKILL');
    assert.equal(existsSync(cg.paths[0]!), false);
  });

  it('says which limits the tree cannot enforce, before creating anything', { skip: l.v2?.controllers.includes('pids') && 'pids available' }, async () => {
    await assert.rejects(
      ContainerCgroup.create({ layout: l, parent: PARENT, name: 'nopids', resources: { pidsLimit: 5 } }),
      isCgroupError(/cgroup pids: this host cannot enforce/),
    );
    assert.equal(existsSync(join(l.v2!.mountpoint, PARENT, 'nopids')), false);
  });

  it('has no v1 device control (on v2 the native driver attaches a BPF program)', () => {
    assert.equal(ContainerCgroup.open({ layout: l, parent: PARENT, name: 'x' }).devicesEnforced, false);
  });
});

describe('applyWrites', () => {
  it('reports a limit whose file the host lacks, and skips an optional unlimited one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'execdriver-cg-'));
    try {
      const ctx = { dirs: [], parent: 'p', name: 'n', containerId: 'abc' };
      assert.throws(
        () => applyWrites(ctx, dir, [{ controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: '100', field: 'memorySwap' }]),
        isCgroupError(/^container abc: cgroup memory: this host cannot enforce memorySwap=100: .*memory\.memsw\.limit_in_bytes does not exist \(swap accounting is off/),
      );
      applyWrites(ctx, dir, [{ controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: '-1', field: 'memorySwap', optional: true }]);
      writeFileSync(join(dir, 'pids.max'), '');
      applyWrites(ctx, dir, [{ controller: 'pids', file: 'pids.max', value: '5' }]);
      assert.equal(read(join(dir, 'pids.max')), '5');
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
