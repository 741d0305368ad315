/**
 * The ops verbs on the command line, both drivers: pause/unpause (list shows paused, wrong
 * state exits 1), stats --no-stream --json and streaming, update (bad input exits 125 and
 * changes nothing; then an OOM kill), top, and the events they record.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../src/lxc/index.js';
import { CLI, makeRootfs, TEST_ROOT, uniqueId, until } from '../helpers.js';

const MiB = 1024 * 1024;

for (const driverName of ['native', 'lxc'] as const) {
  describe(`ops on the command line: ${driverName}`, () => {
    let rootfs: { dir: string; cleanup: () => void };
    const ids: string[] = [];
    const ed = (args: string[]): SpawnSyncReturns<string> =>
      spawnSync(CLI, ['--root', TEST_ROOT, '--driver', driverName, ...args], { encoding: 'utf8', timeout: 60_000 });
    const detached = (script: string): string => {
      const id = uniqueId(`ops${driverName.slice(0, 1)}`);
      const r = ed(['run', '-d', '--net', 'none', '--id', id, '--rootfs', rootfs.dir, '--', 'sh', '-c', script]);
      assert.equal(r.status, 0, r.stderr);
      ids.push(id);
      return id;
    };
    const statsJson = (id: string) => {
      const r = ed(['stats', '--no-stream', '--json', id]);
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 1);
      return JSON.parse(lines[0]!);
    };
    const events = (id: string) =>
      readFileSync(join(TEST_ROOT, 'events.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .filter((e) => e.id === id)
        .map((e) => e.type);

    before(() => {
      rootfs = makeRootfs();
    });
    after(() => {
      for (const id of ids) ed(['delete', '--force', id]);
      rootfs.cleanup();
    });

    it('pause / unpause: list shows paused; a second pause and an unpause of a running one exit 1', () => {
      const id = detached('while :; do sleep 0.05; done');
      assert.equal(ed(['pause', id]).status, 0);
      assert.match(ed(['list']).stdout, new RegExp(`^${id}\\s+\\S+\\s+\\d+\\s+paused`, 'm'));
      assert.equal(JSON.parse(ed(['info', id]).stdout).status, 'paused');
      const again = ed(['pause', id]);
      assert.equal(again.status, 1);
      assert.equal(again.stderr, `execdriver: container ${id}: is already paused\n`);
      assert.equal(ed(['unpause', id]).status, 0);
      assert.equal(JSON.parse(ed(['info', id]).stdout).status, 'running');
      const not = ed(['unpause', id]);
      assert.equal(not.status, 1);
      assert.match(not.stderr, /is not paused/);
      assert.deepEqual(events(id).filter((t) => t === 'pause' || t === 'unpause'), ['pause', 'unpause']);
    });

    it('pause of a stopped container: one line, exit 1; of an unknown one: exit 125', () => {
      const id = detached('exit 0');
      assert.equal(ed(['wait', id]).status, 0);
      const r = ed(['pause', id]);
      assert.equal(r.status, 1);
      assert.equal(r.stderr, `execdriver: container ${id}: is not running: cannot pause it\n`);
      const u = ed(['pause', 'no-such-ops']);
      assert.equal(u.status, 125);
      assert.match(u.stderr, /no such container/);
    });

    it('stats --no-stream --json: memory ≥ 20 MiB of a container holding 24 MiB; pids current = top rows', async () => {
      const id = detached('dd if=/dev/zero bs=24M count=1 2>/dev/null | sleep 1000');
      const s = await until(() => {
        const x = statsJson(id);
        return x.memory.usage >= 20 * MiB && x.pids.current === 3 ? x : undefined;
      }, 15_000, 'the container to hold 20 MiB');
      assert.equal(s.id, id);
      assert.ok(s.cpu.usageNs > 0 && typeof s.cpu.percent === 'number');
      assert.deepEqual(s.networks, {}, '--net none: no interface but lo');
      const top = ed(['top', id]);
      assert.equal(top.status, 0, top.stderr);
      const rows = top.stdout.trim().split('\n');
      assert.match(rows[0]!, /^PID\s+CPID\s+PPID\s+USER\s+STAT\s+COMMAND$/);
      assert.equal(rows.length - 1, s.pids.current);
      assert.ok(rows.some((r) => /\s1\s.*root.*sh -c dd/.test(r)), top.stdout);
      const table = ed(['stats', '--no-stream', id]);
      assert.match(table.stdout, /^CONTAINER\s+CPU %\s+MEM USAGE \/ LIMIT/);
      assert.match(table.stdout, new RegExp(`^${id}\\s+[\\d.]+%\\s+[\\d.]+MiB / `, 'm'));
      const all = ed(['stats', '--no-stream', '--json']);
      assert.ok(all.stdout.split('\n').filter(Boolean).some((l) => JSON.parse(l).id === id), 'no ID: every running container');
    });

    it('stats streams one JSON line per container each second', async () => {
      const id = detached('sleep 1000');
      const child = spawn(CLI, ['--root', TEST_ROOT, '--driver', driverName, 'stats', '--json', id], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      try {
        await until(() => out.split('\n').filter(Boolean).length >= 2, 10_000, 'two samples');
      } finally {
        child.kill('SIGTERM');
      }
      const [a, b] = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      assert.equal(a.id, id);
      const gap = Date.parse(b.read) - Date.parse(a.read);
      assert.ok(gap > 800 && gap < 2000, `about a second apart: ${gap} ms`);
    });

    it('update --cpu-quota 20000 --cpuset-cpus 0 holds a busy loop near 20% of a CPU', async () => {
      const id = detached('while :; do :; done');
      const ok = ed(['update', '--cpu-quota', '20000', '--cpu-period', '100000', '--cpu-shares', '512', '--cpuset-cpus', '0', id]);
      assert.equal(ok.status, 0, ok.stderr);
      const s = await until(() => {
        const x = statsJson(id);
        return x.cpu.percent > 5 ? x : undefined;
      }, 10_000, 'the loop to use CPU');
      assert.ok(s.cpu.percent < 35, `CPU % under a 20% quota: ${s.cpu.percent}`);
    });

    it('update: -m 12q exits 125 with one line and changes nothing; --memory 32m then 64 MiB is OOM-killed', async () => {
      const id = detached("trap 'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo $? > /tmp/ddrc' USR1; while :; do sleep 0.05; done");
      await until(() => ed(['top', id]).stdout.includes('sleep 0.05'), 10_000, 'the loop to run');
      const bad = ed(['update', '-m', '12q', id]);
      assert.equal(bad.status, 125);
      assert.equal(bad.stderr.split('\n').filter(Boolean).length, 1, bad.stderr);
      assert.match(bad.stderr, /invalid --memory "12q"/);
      for (const args of [['--memory', '1k'], ['--cpu-shares', '1'], ['--pids-limit', '0'], ['--cpuset-cpus', 'x']]) {
        const r = ed(['update', ...args, id]);
        assert.equal(r.status, 125, `${args.join(' ')}: ${r.stderr}`);
      }
      assert.equal(ed(['update', id]).status, 125, 'nothing to change');
      assert.equal(statsJson(id).memory.limit, null, 'nothing changed');
      const ok = ed(['update', '--memory', '32m', '--pids-limit', '40', id]);
      assert.equal(ok.status, 0, ok.stderr);
      const s = statsJson(id);
      assert.equal(s.memory.limit, 32 * MiB);
      assert.equal(s.pids.limit, 40);
      assert.equal(ed(['kill', id, 'USR1']).status, 0);
      const pid = JSON.parse(ed(['info', id]).stdout).pid;
      const rc = await until(() => {
        try {
          return readFileSync(`/proc/${pid}/root/tmp/ddrc`, 'utf8').trim();
        } catch {
          return '';
        }
      }, 20_000, 'the allocation to end');
      assert.equal(rc, '137');
      assert.ok(statsJson(id).memory.oomKills >= 1);
      assert.ok(events(id).includes('update'));
    });
  });
}
