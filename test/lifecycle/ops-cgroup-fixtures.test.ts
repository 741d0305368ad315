/**
 * ContainerCgroup's stats, update and freezer over fixture directories laid out as a pure
 * cgroup v2 host and as a hybrid one (this machine is hybrid: the v2 paths run here only so).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ContainerCgroup, type CgroupLayout } from '../../src/cgroups/index.js';

const MiB = 1024 * 1024;
const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tree(files: Record<string, string>): string {
  const top = mkdtempSync(join(tmpdir(), 'execdriver-ops-fixture-'));
  made.push(top);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(top, rel, '..'), { recursive: true });
    writeFileSync(join(top, rel), text);
  }
  return top;
}
const read = (p: string) => readFileSync(p, 'utf8');

describe('cgroup v2 (pure) fixture', () => {
  const c = 'execdriver/ops-v2';
  const top = tree({
    'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
    'cgroup.subtree_control': '',
    'execdriver/cgroup.subtree_control': '',
    [`${c}/cgroup.procs`]: '101\n102\n',
    [`${c}/cgroup.freeze`]: '',
    [`${c}/cgroup.events`]: 'populated 1\nfrozen 1\n',
    [`${c}/memory.current`]: '22020096\n',
    [`${c}/memory.max`]: 'max\n',
    [`${c}/memory.stat`]: 'anon 20971520\nfile 4096\n',
    [`${c}/memory.events`]: 'oom 0\noom_kill 0\n',
    [`${c}/memory.swap.max`]: '',
    [`${c}/cpu.stat`]: 'usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n',
    [`${c}/cpu.max`]: '',
    [`${c}/cpu.weight`]: '',
    [`${c}/pids.current`]: '2\n',
    [`${c}/pids.max`]: 'max\n',
    [`${c}/io.stat`]: '8:0 rbytes=4096 wbytes=0 rios=1 wios=0\n',
  });
  const layout: CgroupLayout = { mode: 'v2', v1: new Map(), v2: { mountpoint: top, controllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'] } };
  const cg = ContainerCgroup.open({ layout, name: 'ops-v2', containerId: 'ops-v2' });

  it('one directory; stats from memory.current, cpu.stat, pids, io.stat', async () => {
    assert.deepEqual(cg.paths, [join(top, c)]);
    assert.deepEqual(await cg.stats(), {
      memory: { usage: 22020096, limit: null, cache: 4096, rss: 20971520, oomKills: 0 },
      cpu: { usageNs: 2_500_000, userNs: 2_000_000, systemNs: 500_000 },
      pids: { current: 2, limit: null },
      io: { readBytes: 4096, writeBytes: 0, readOps: 1, writeOps: 0 },
    });
    assert.deepEqual(await cg.pids(), [101, 102]);
    assert.equal(cg.oomCounterFile, join(top, c, 'memory.events'));
  });

  it('update: enables the controllers from the root down, writes memory.max, swap, cpu.max, pids.max', async () => {
    for (const f of ['memory.max', 'pids.max']) writeFileSync(join(top, c, f), ''); // regular files are not truncated on write
    await cg.update({ memory: 32 * MiB, memorySwap: 48 * MiB, cpuQuota: 50000, cpuShares: 1024, pidsLimit: 20 });
    assert.equal(read(join(top, c, 'memory.max')), String(32 * MiB));
    assert.equal(read(join(top, c, 'memory.swap.max')), String(16 * MiB));
    assert.equal(read(join(top, c, 'cpu.max')), '50000');
    assert.equal(read(join(top, c, 'cpu.weight')), '39');
    assert.equal(read(join(top, c, 'pids.max')), '20');
    assert.match(read(join(top, 'cgroup.subtree_control')), /\+memory \+cpu \+pids/);
    assert.match(read(join(top, 'execdriver/cgroup.subtree_control')), /\+memory \+cpu \+pids/);
    assert.equal(await cg.memoryLimit(), 32 * MiB);
  });

  it('update of a controller the host lacks: ERR_CGROUP, nothing written', async () => {
    const bare = ContainerCgroup.open({ layout: { ...layout, v2: { mountpoint: top, controllers: ['memory'] } }, name: 'ops-v2' });
    await assert.rejects(bare.update({ pidsLimit: 5 }), (e: Error & { code: string }) => e.code === 'ERR_CGROUP' && /pids controller/.test(e.message));
    assert.equal(read(join(top, c, 'pids.max')), '20');
  });

  it('freezer: cgroup.freeze written, cgroup.events read', async () => {
    await cg.freeze({ timeoutMs: 200 });
    assert.equal(read(join(top, c, 'cgroup.freeze')), '1');
    assert.equal(cg.isFrozenSync(), true);
    writeFileSync(join(top, c, 'cgroup.events'), 'populated 1\nfrozen 0\n');
    await cg.thaw({ timeoutMs: 200 });
    assert.equal(read(join(top, c, 'cgroup.freeze')), '0');
    assert.equal(await cg.isFrozen(), false);
  });
});

describe('hybrid fixture: v1 controllers, an empty cgroup2 tree', () => {
  const v1 = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer', 'blkio'];
  const files: Record<string, string> = {
    'memory/execdriver/ops-h/memory.usage_in_bytes': '4096\n',
    'memory/execdriver/ops-h/memory.limit_in_bytes': '9223372036854771712\n',
    'memory/execdriver/ops-h/memory.memsw.limit_in_bytes': '9223372036854771712\n',
    'memory/execdriver/ops-h/memory.soft_limit_in_bytes': '',
    'memory/execdriver/ops-h/memory.stat': 'cache 1\nrss 2\ntotal_cache 10\ntotal_rss 20\n',
    'memory/execdriver/ops-h/memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n',
    'memory/execdriver/ops-h/cgroup.procs': '7\n',
    'cpu/execdriver/ops-h/cpu.shares': '',
    'cpu/execdriver/ops-h/cpu.cfs_quota_us': '',
    'cpuacct/execdriver/ops-h/cpuacct.usage': '999\n',
    'pids/execdriver/ops-h/pids.current': '1\n',
    'pids/execdriver/ops-h/pids.max': '10\n',
    'freezer/execdriver/ops-h/freezer.state': 'FROZEN\n',
    'blkio/execdriver/ops-h/blkio.throttle.io_service_bytes_recursive': '8:0 Read 512\n8:0 Write 1024\nTotal 1536\n',
    'blkio/execdriver/ops-h/blkio.throttle.io_serviced_recursive': '8:0 Read 1\n8:0 Write 2\nTotal 3\n',
    'unified/execdriver/ops-h/cgroup.events': 'populated 1\nfrozen 0\n',
  };
  const top = tree(files);
  const layout: CgroupLayout = {
    mode: 'hybrid',
    v1: new Map(v1.map((k) => [k, { mountpoint: join(top, k), controllers: [k] }])),
    v2: { mountpoint: join(top, 'unified'), controllers: ['hugetlb'] },
  };
  const cg = ContainerCgroup.open({ layout, name: 'ops-h' });

  it('stats read each controller where it lives (v1), not the cgroup2 tree', async () => {
    assert.deepEqual(await cg.stats(), {
      memory: { usage: 4096, limit: null, cache: 10, rss: 20, oomKills: 1 },
      cpu: { usageNs: 999 },
      pids: { current: 1, limit: 10 },
      io: { readBytes: 512, writeBytes: 1024, readOps: 1, writeOps: 2 },
    });
    assert.equal(await cg.memoryLimit(), null);
  });

  it('the v1 freezer is used, not cgroup.freeze', async () => {
    assert.equal(cg.isFrozenSync(), true);
    await cg.freeze({ timeoutMs: 200 });
    assert.equal(read(join(top, 'freezer/execdriver/ops-h/freezer.state')), 'FROZEN\n');
  });

  it('update: v1 files', async () => {
    await cg.update({ memory: 64 * MiB, memorySwap: 96 * MiB, cpuShares: 256, cpuQuota: -1 });
    assert.equal(read(join(top, 'memory/execdriver/ops-h/memory.limit_in_bytes')).slice(0, 8), String(64 * MiB));
    assert.equal(read(join(top, 'memory/execdriver/ops-h/memory.memsw.limit_in_bytes')).slice(0, 9), String(96 * MiB));
    assert.equal(read(join(top, 'cpu/execdriver/ops-h/cpu.shares')), '256');
    assert.equal(read(join(top, 'cpu/execdriver/ops-h/cpu.cfs_quota_us')), '-1');
  });
});
