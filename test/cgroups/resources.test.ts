import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidConfigError } from '../../src/errors.js';
import {
  DEFAULT_DEVICE_RULES,
  isCpuList,
  parseSize,
  renderV1,
  renderV2,
  sharesToWeight,
  validateResources,
  type CgroupWrite,
} from '../../src/cgroups/resources.js';

const MiB = 1024 * 1024;
const short = (w: CgroupWrite[]) => w.map((x) => `${x.file}=${x.value}`);

describe('parseSize', () => {
  it('parses plain numbers and binary units', () => {
    assert.equal(parseSize('123'), 123);
    assert.equal(parseSize('512k'), 512 * 1024);
    assert.equal(parseSize('64m'), 64 * MiB);
    assert.equal(parseSize('64M'), 64 * MiB);
    assert.equal(parseSize('64mb'), 64 * MiB);
    assert.equal(parseSize('64MiB'), 64 * MiB);
    assert.equal(parseSize('1g'), 1024 * MiB);
    assert.equal(parseSize('1.5g'), 1536 * MiB);
    assert.equal(parseSize('10b'), 10);
    assert.equal(parseSize(' 2t '), 2 * 1024 ** 4);
    assert.equal(parseSize('-1'), -1);
  });

  it('rejects garbage with InvalidConfigError naming the value', () => {
    for (const bad of ['12q', '', 'm', '-5', '1.2.3m', 'abc', '64 mm', '12ib', '0x10']) {
      assert.throws(
        () => parseSize(bad, 'memory limit'),
        (e: unknown) => e instanceof InvalidConfigError && e.code === 'ERR_INVALID_CONFIG' && e.message.includes(`"${bad}"`),
        bad,
      );
    }
    assert.throws(() => parseSize('12q', 'memory limit'), /invalid memory limit "12q"/);
    assert.throws(() => parseSize('99999999p'), /too large/);
  });
});

describe('validateResources', () => {
  const ok = (r: Parameters<typeof validateResources>[0]) => assert.doesNotThrow(() => validateResources(r));
  const bad = (r: Parameters<typeof validateResources>[0], re: RegExp) =>
    assert.throws(() => validateResources(r), (e: unknown) => e instanceof InvalidConfigError && re.test(e.message));

  it('accepts sensible limits', () => {
    ok({});
    ok({ memory: 6 * MiB });
    ok({ memory: 64 * MiB, memorySwap: 64 * MiB });
    ok({ memory: 64 * MiB, memorySwap: -1, memoryReservation: 32 * MiB });
    ok({ memoryReservation: 32 * MiB });
    ok({ cpuShares: 2 });
    ok({ cpuShares: 262144, cpuQuota: -1, cpuPeriod: 1000 });
    ok({ cpuQuota: 1000, cpuPeriod: 1000000 });
    ok({ cpusetCpus: '0-1,3', cpusetMems: '0' });
    ok({ pidsLimit: 1 });
    ok({ pidsLimit: -1 });
  });

  it('rejects bad limits naming field and value', () => {
    bad({ memory: 6 * MiB - 1 }, /memory 6291455: the minimum is 6 MiB/);
    bad({ memory: 1.5 * MiB + 0.5 }, /memory .*must be an integer/);
    bad({ memorySwap: 64 * MiB }, /memorySwap 67108864: a swap limit needs a memory limit/);
    bad({ memory: 64 * MiB, memorySwap: 32 * MiB }, /memorySwap 33554432: must be -1 .* or at least the memory limit/);
    bad({ memory: 64 * MiB, memorySwap: -2 }, /memorySwap -2/);
    bad({ memory: 64 * MiB, memoryReservation: 65 * MiB }, /memoryReservation .* must not exceed/);
    bad({ memoryReservation: -1 }, /memoryReservation -1/);
    bad({ cpuShares: 1 }, /cpuShares 1: must be between 2 and 262144/);
    bad({ cpuShares: 262145 }, /cpuShares 262145/);
    bad({ cpuQuota: 999 }, /cpuQuota 999/);
    bad({ cpuQuota: 0 }, /cpuQuota 0/);
    bad({ cpuPeriod: 999 }, /cpuPeriod 999/);
    bad({ cpuPeriod: 1000001 }, /cpuPeriod 1000001/);
    bad({ cpusetCpus: '0-' }, /cpusetCpus "0-": expected a list/);
    bad({ cpusetCpus: '3-1' }, /cpusetCpus "3-1"/);
    bad({ cpusetMems: 'a' }, /cpusetMems "a"/);
    bad({ cpusetCpus: '' }, /cpusetCpus ""/);
    bad({ pidsLimit: 0 }, /pidsLimit 0: must be positive or -1/);
    bad({ pidsLimit: -2 }, /pidsLimit -2/);
    bad({ memory: '64m' as unknown as number }, /memory "64m": must be an integer/);
  });

  it('checks cpu list syntax', () => {
    assert.ok(isCpuList('0'));
    assert.ok(isCpuList('0-3,5,7-8'));
    for (const s of ['', ',', '0,', '-1', '1--2', '0 1', '2-1']) assert.ok(!isCpuList(s), s);
  });
});

describe('renderV1', () => {
  it('renders the default device allow-list and nothing else for no limits', () => {
    const w = renderV1({}, 'default');
    assert.deepEqual(short(w), ['devices.deny=a', ...DEFAULT_DEVICE_RULES.map((r) => `devices.allow=${r}`)]);
    assert.deepEqual(DEFAULT_DEVICE_RULES, [
      'c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm',
      'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', 'c 4:0 rwm', 'c 4:1 rwm', 'c 136:* rwm', 'c 10:200 rwm',
    ]);
    assert.ok(w.every((x) => x.controller === 'devices'));
  });

  it('allows every device when privileged', () => {
    assert.deepEqual(short(renderV1({}, 'allow-all')), ['devices.allow=a']);
  });

  it('renders every limit in order, memsw after the memory limit, period before quota', () => {
    const w = renderV1(
      {
        memory: 64 * MiB, memorySwap: 128 * MiB, memoryReservation: 32 * MiB,
        cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000, cpusetCpus: '0', cpusetMems: '0', pidsLimit: 100,
      },
      'allow-all',
    );
    assert.deepEqual(short(w), [
      'devices.allow=a',
      `memory.limit_in_bytes=${64 * MiB}`,
      `memory.soft_limit_in_bytes=${32 * MiB}`,
      `memory.memsw.limit_in_bytes=${128 * MiB}`,
      'cpu.shares=512',
      'cpu.cfs_period_us=100000',
      'cpu.cfs_quota_us=50000',
      'cpuset.cpus=0',
      'cpuset.mems=0',
      'pids.max=100',
    ]);
    assert.deepEqual(
      w.map((x) => x.controller),
      ['devices', 'memory', 'memory', 'memory', 'cpu', 'cpu', 'cpu', 'cpuset', 'cpuset', 'pids'],
    );
  });

  it('writes unlimited values and copies the parent cpuset when none is given', () => {
    const w = renderV1({ memory: 64 * MiB, memorySwap: -1, cpuQuota: -1, pidsLimit: -1 }, 'allow-all', { cpus: '0-1', mems: '0' });
    assert.deepEqual(short(w).slice(1), [
      `memory.limit_in_bytes=${64 * MiB}`,
      'memory.memsw.limit_in_bytes=-1',
      'cpu.cfs_quota_us=-1',
      'cpuset.cpus=0-1',
      'cpuset.mems=0',
      'pids.max=max',
    ]);
    assert.equal(w.find((x) => x.file === 'memory.memsw.limit_in_bytes')?.optional, true);
    // a given value wins over the parent's
    assert.deepEqual(short(renderV1({ cpusetCpus: '1' }, 'allow-all', { cpus: '0-1', mems: '0' })).slice(1), ['cpuset.cpus=1', 'cpuset.mems=0']);
  });
});

describe('renderV2', () => {
  it('converts shares to weight like runc and crun', () => {
    assert.equal(sharesToWeight(2), 1);
    assert.equal(sharesToWeight(1024), 39);
    assert.equal(sharesToWeight(512), 20);
    assert.equal(sharesToWeight(262144), 10000);
  });

  it('renders every limit', () => {
    const w = renderV2({
      memory: 64 * MiB, memorySwap: 96 * MiB, memoryReservation: 32 * MiB,
      cpuShares: 1024, cpuQuota: 50000, cpuPeriod: 200000, cpusetCpus: '0-1', cpusetMems: '0', pidsLimit: 10,
    });
    assert.deepEqual(short(w), [
      `memory.max=${64 * MiB}`,
      `memory.swap.max=${32 * MiB}`,
      `memory.low=${32 * MiB}`,
      'cpu.weight=39',
      'cpu.max=50000 200000',
      'cpuset.cpus=0-1',
      'cpuset.mems=0',
      'pids.max=10',
    ]);
  });

  it('renders unlimited values and defaults', () => {
    assert.deepEqual(short(renderV2({ memory: 64 * MiB, memorySwap: -1, cpuQuota: -1, pidsLimit: -1 })), [
      `memory.max=${64 * MiB}`,
      'memory.swap.max=max',
      'cpu.max=max 100000',
      'pids.max=max',
    ]);
    assert.deepEqual(short(renderV2({ cpuQuota: 25000 })), ['cpu.max=25000 100000']);
    assert.deepEqual(short(renderV2({ cpuPeriod: 50000 })), ['cpu.max=max 50000']);
    assert.deepEqual(short(renderV2({ memory: 64 * MiB, memorySwap: 64 * MiB })), [`memory.max=${64 * MiB}`, 'memory.swap.max=0']);
    assert.deepEqual(renderV2({}), []);
  });
});
