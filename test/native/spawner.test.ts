// The spawner (native/spawner.c, src/init/spawner.ts): a run with no stream of the caller's gets a
// monitor forked by the small process this one keeps, not by Node; the spawner answers no other
// process; the monitor's `cgroup-join` puts the child in its cgroups before `pid`, and a failed
// one is reported before anything runs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { INIT_BINARY, MonitorChannel } from '../../src/init/monitor.js';
import { Spawner } from '../../src/init/spawner.js';
import { nativeFixture, TEST_ROOT, uniqueId } from '../helpers.js';

const ppidOf = (pid: number): number => Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const argvOf = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

describe('the spawner', () => {
  const fx = nativeFixture();

  it("a run with no stream of the caller's: its monitor is a fork of the spawner, the exit status comes back", async () => {
    const id = uniqueId('sp');
    let seen: { monitor: string[]; spawner: string[]; spawnerParent: number; inCgroup: boolean } | undefined;
    const st = await fx.driver.run(
      { id, rootfs: fx.rootfs.dir, entrypoint: '/bin/sh', arguments: ['-c', 'sleep 0.3; exit 3'], network: { mode: 'none' } },
      {},
      ({ pid }) => {
        const monitor = ppidOf(pid);
        const spawner = ppidOf(monitor);
        seen = {
          monitor: argvOf(monitor),
          spawner: argvOf(spawner),
          spawnerParent: ppidOf(spawner),
          // cgroup-join: the monitor wrote it, in every hierarchy the container has (here: one checked)
          inCgroup: readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`/execdriver/${id}`),
        };
      },
    );
    assert.equal(st.exitCode, 3);
    assert.deepEqual(seen?.monitor, [INIT_BINARY, 'monitor']);
    assert.deepEqual(seen?.spawner, [INIT_BINARY, 'spawner']);
    assert.equal(seen?.spawnerParent, process.pid);
    assert.equal(seen?.inCgroup, true);
    assert.equal(existsSync(join(TEST_ROOT, 'native', id)), false);
  });

  it('answers no other process: a connection from another one is closed without a frame', async () => {
    const spawner = await Spawner.get(INIT_BINARY);
    assert.ok(spawner?.running);
    const name = (spawner as unknown as { name: string }).name;
    const r = spawnSync(
      process.execPath,
      ['-e', `const s = require('net').connect({ path: '\\0' + process.argv[1] }); let n = 0; s.on('data', (d) => (n += d.length)); s.on('close', () => console.log('closed ' + n)); s.on('error', (e) => console.log(e.code));`, name],
      { encoding: 'utf8', timeout: 10_000 },
    );
    assert.equal(r.stdout.trim(), 'closed 0', r.stderr);
  });

  it('a cgroup-join that fails is reported before anything runs', async () => {
    const monitor = await MonitorChannel.fork('cinit-spawner');
    assert.ok(monitor);
    monitor.sendPlan([['cgroup-join', '/nonexistent-cgroup/cgroup.procs'], ['exec', '', '/bin/true']]);
    const f = await monitor.next();
    assert.deepEqual(f?.slice(0, 4), ['error', 'cgroup-join#0', '2', '/nonexistent-cgroup/cgroup.procs'], JSON.stringify(f));
    assert.match(f![4]!, /^write \d+ to \/nonexistent-cgroup\/cgroup.procs$/);
    assert.equal(await monitor.next(), undefined);
    await monitor.closed();
    assert.match(monitor.exitText(), /^exit code 1$/);
  });

  it('EXECDRIVER_SPAWNER=0: no spawner (the monitor is spawned by Node)', async () => {
    process.env['EXECDRIVER_SPAWNER'] = '0';
    try {
      assert.equal(await MonitorChannel.fork('cinit-spawner'), undefined);
    } finally {
      delete process.env['EXECDRIVER_SPAWNER'];
    }
  });
});
