/** Pure parsers and renderers of the ops part: cgroup stat files (v1 and v2), /proc files, the stats table. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cpuPercent, parseCpuStats, renderCpu } from '../../src/cgroups/controllers/cpu.js';
import { parseFrozen } from '../../src/cgroups/controllers/freezer.js';
import { parseIoStats } from '../../src/cgroups/controllers/io.js';
import { parseMemoryStats, parseOomKills, renderMemory } from '../../src/cgroups/controllers/memory.js';
import { parseFlatKeyed, parseLimit } from '../../src/cgroups/controllers/parse.js';
import { parsePidsStats } from '../../src/cgroups/controllers/pids.js';
import { v1Backend } from '../../src/cgroups/v1.js';
import { v2Backend } from '../../src/cgroups/v2.js';
import { formatBytes, statsRow } from '../../src/cli/stats.js';
import { topTable } from '../../src/cli/top.js';
import type { ContainerStats } from '../../src/ops/index.js';
import { parseCmdline, parseNetDev, parsePasswd, parseProcStatus } from '../../src/ops/procfs.js';

const MiB = 1024 * 1024;

describe('cgroup stat parsers', () => {
  it('flat-keyed files and limits', () => {
    assert.deepEqual([...parseFlatKeyed('cache 4096\nrss 8192\nbad line\nx -1\n')], [['cache', 4096], ['rss', 8192], ['x', -1]]);
    assert.equal(parseLimit('max\n'), null);
    assert.equal(parseLimit('9223372036854771712\n'), null);
    assert.equal(parseLimit('33554432\n'), 32 * MiB);
    assert.equal(parseLimit('-1'), null);
  });

  it('memory v1: usage, limit, total_cache, rss, oom_kill', () => {
    const s = parseMemoryStats(1, {
      usage: '25165824\n',
      limit: '9223372036854771712\n',
      stat: 'cache 100\nrss 200\ntotal_cache 4096\ntotal_rss 20971520\n',
      events: 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
    });
    assert.deepEqual(s, { usage: 25165824, limit: null, cache: 4096, rss: 20971520, oomKills: 2 });
    assert.equal(parseMemoryStats(1, { usage: '1', stat: 'cache 7\nrss 9\n' }).cache, 7, 'flat keys when no total_');
  });

  it('memory v2: current, max, file, anon, memory.events', () => {
    const s = parseMemoryStats(2, {
      usage: '1048576\n',
      limit: '33554432\n',
      stat: 'anon 524288\nfile 262144\nkernel 1000\n',
      events: 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n',
    });
    assert.deepEqual(s, { usage: 1048576, limit: 32 * MiB, cache: 262144, rss: 524288, oomKills: 1 });
    assert.equal(parseOomKills('oom 4\noom_kill 3\noom_group_kill 0\n'), 3);
  });

  it('cpu: v1 ns files, v2 cpu.stat µs; the percentage', () => {
    assert.deepEqual(parseCpuStats(1, { usage: '123456789\n', user: '100\n', system: '200\n' }), { usageNs: 123456789, userNs: 100, systemNs: 200 });
    assert.deepEqual(parseCpuStats(2, { stat: 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n' }), {
      usageNs: 1_500_000,
      userNs: 1_000_000,
      systemNs: 500_000,
    });
    assert.equal(cpuPercent(0, 500_000_000, 1_000_000_000), 50);
    assert.equal(cpuPercent(0, 2_000_000_000, 1_000_000_000), 200, 'two CPUs busy');
    assert.equal(cpuPercent(10, 5, 1000), 0, 'a counter that went back (new cgroup) is 0');
  });

  it('pids and block I/O (v1 recursive files, v2 io.stat)', () => {
    assert.deepEqual(parsePidsStats({ current: '3\n', max: 'max\n' }), { current: 3, limit: null });
    assert.deepEqual(parsePidsStats({ current: '3\n', max: '50\n' }), { current: 3, limit: 50 });
    assert.deepEqual(
      parseIoStats(1, {
        bytes: '8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n8:16 Read 1\nTotal 12289\n',
        ops: '8:0 Read 1\n8:0 Write 2\n8:0 Total 3\nTotal 3\n',
      }),
      { readBytes: 4097, writeBytes: 8192, readOps: 1, writeOps: 2 },
    );
    assert.deepEqual(parseIoStats(2, { stat: '8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=0 rios=1 wios=0\n' }), {
      readBytes: 101,
      writeBytes: 200,
      readOps: 2,
      writeOps: 2,
    });
  });

  it('freezer states', () => {
    assert.equal(parseFrozen(1, 'FROZEN\n'), true);
    assert.equal(parseFrozen(1, 'FREEZING\n'), false);
    assert.equal(parseFrozen(1, 'THAWED\n'), false);
    assert.equal(parseFrozen(2, 'populated 1\nfrozen 1\n'), true);
    assert.equal(parseFrozen(2, 'populated 1\nfrozen 0\n'), false);
  });
});

describe('update renderers', () => {
  const files = (w: { file: string; value: string }[]) => w.map((x) => `${x.file}=${x.value}`);
  it('v1: memory before memsw, or memsw first when raising past it; no device rules', () => {
    assert.deepEqual(files(renderMemory(1, { memory: 64 * MiB, memorySwap: 128 * MiB })), [`memory.limit_in_bytes=${64 * MiB}`, `memory.memsw.limit_in_bytes=${128 * MiB}`]);
    assert.deepEqual(files(renderMemory(1, { memory: 64 * MiB, memorySwap: 128 * MiB }, { swapFirst: true })), [
      `memory.memsw.limit_in_bytes=${128 * MiB}`,
      `memory.limit_in_bytes=${64 * MiB}`,
    ]);
    assert.deepEqual(files(v1Backend.renderUpdate({ memory: 32 * MiB, cpuShares: 512, cpusetCpus: '0', pidsLimit: -1 })), [
      `memory.limit_in_bytes=${32 * MiB}`,
      'cpu.shares=512',
      'cpuset.cpus=0',
      'pids.max=max',
    ]);
  });

  it('v2: a quota alone keeps the period; with a period both', () => {
    assert.deepEqual(files(renderCpu(2, { cpuQuota: 50000 }, { update: true })), ['cpu.max=50000']);
    assert.deepEqual(files(renderCpu(2, { cpuQuota: -1 }, { update: true })), ['cpu.max=max']);
    assert.deepEqual(files(renderCpu(2, { cpuQuota: 50000, cpuPeriod: 200000 }, { update: true })), ['cpu.max=50000 200000']);
    assert.deepEqual(files(renderCpu(2, { cpuQuota: 50000 })), ['cpu.max=50000 100000'], 'creation writes the default period');
    assert.deepEqual(files(v2Backend.renderUpdate({ memory: 32 * MiB, memorySwap: 48 * MiB, pidsLimit: 9 })), [
      `memory.max=${32 * MiB}`,
      `memory.swap.max=${16 * MiB}`,
      'pids.max=9',
    ]);
  });
});

describe('/proc parsers', () => {
  it('net/dev: counters by interface', () => {
    const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0
  eth0:    1296      12    1    2    0     0          0         0      558        7    3    4    0     0       0          0
`;
    const n = parseNetDev(text);
    assert.deepEqual(Object.keys(n), ['lo', 'eth0']);
    assert.deepEqual(n['eth0'], { rxBytes: 1296, rxPackets: 12, rxErrors: 1, rxDropped: 2, txBytes: 558, txPackets: 7, txErrors: 3, txDropped: 4 });
  });

  it('status: name, state, ppid, real uid, NSpid; cmdline; passwd', () => {
    const s = parseProcStatus('Name:\tsleep\nState:\tS (sleeping)\nPid:\t4242\nPPid:\t4200\nUid:\t1000\t0\t0\t0\nNSpid:\t4242\t7\n');
    assert.deepEqual(s, { name: 'sleep', state: 'S', ppid: 4200, uid: 1000, nsPids: [4242, 7] });
    assert.deepEqual(parseProcStatus('Name:\tx\nPid:\t5\nUid:\t0\t0\t0\t0\n').nsPids, [5], 'no NSpid line (old kernels)');
    assert.deepEqual(parseCmdline('sleep\x001000\x00', 'sleep'), ['sleep', '1000']);
    assert.deepEqual(parseCmdline('', 'kworker'), ['[kworker]']);
    const pw = parsePasswd('root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\nbroken\ntoor:x:0:0::/:/bin/sh\n');
    assert.equal(pw.get(0), 'root');
    assert.equal(pw.get(65534), 'nobody');
  });
});

describe('stats and top output', () => {
  it('sizes, one row like docker stats', () => {
    assert.equal(formatBytes(0), '0B');
    assert.equal(formatBytes(1536), '1.50KiB');
    assert.equal(formatBytes(20 * MiB), '20.0MiB');
    const s: ContainerStats = {
      id: 'c1',
      read: '',
      pid: 1,
      memory: { usage: 16 * MiB, limit: 64 * MiB, cache: 0, rss: 0, oomKills: 0 },
      cpu: { usageNs: 1, percent: 12.345, onlineCpus: 2 },
      pids: { current: 3, limit: 50 },
      networks: { eth0: { rxBytes: 2048, rxPackets: 2, rxErrors: 0, rxDropped: 0, txBytes: 1024, txPackets: 1, txErrors: 0, txDropped: 0 } },
      blockIo: null,
      sampledAtNs: 0,
    };
    assert.deepEqual(statsRow(s), ['c1', '12.35%', '16.0MiB / 64.0MiB', '25.00%', '2.00KiB / 1.00KiB', '--', '3 / 50']);
    assert.equal(statsRow({ ...s, cpu: null, memory: null })[1], '--');
  });

  it('top: a table with the host and container pids', () => {
    const t = topTable([{ pid: 4242, containerPid: 1, ppid: 4200, uid: 0, user: 'root', state: 'S', command: ['sleep', '1000'] }]);
    assert.deepEqual(t.split('\n')[1]!.split(/\s+/), ['4242', '1', '4200', 'root', 'S', 'sleep', '1000']);
  });
});
