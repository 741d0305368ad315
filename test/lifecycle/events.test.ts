/**
 * `execdriver events` on both drivers, with real containers: what a follower prints while a
 * container runs, OOM kills reported as they happen, a detached container's `die` recorded by
 * its monitor after the CLI that started it has exited, `--since`/`--until`.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { readEvents, type RecordedEvent } from '../../src/events/log.js';
import { CLI, makeRootfs, TEST_ROOT, uniqueId, until } from '../helpers.js';

const followers: ChildProcess[] = [];
after(() => followers.forEach((p) => p.kill('SIGKILL')));

/** `execdriver events --json ARGS…` as a process; the events it printed so far. */
function follow(args: string[] = []): { proc: ChildProcess; events: RecordedEvent[]; exited: Promise<number | null> } {
  const proc = spawn(CLI, ['--root', TEST_ROOT, 'events', '--json', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  followers.push(proc);
  const events: RecordedEvent[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) events.push(JSON.parse(l) as RecordedEvent);
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, events, exited };
}

for (const driverName of ['native', 'lxc'] as const) {
  describe(`events (CLI): ${driverName}`, () => {
    let rootfs: { dir: string; cleanup: () => void };
    const ids: string[] = [];
    const ed = (args: string[]) => spawnSync(CLI, ['--root', TEST_ROOT, '--driver', driverName, ...args], { encoding: 'utf8', timeout: 60_000 });
    const id = () => {
      const i = uniqueId(`events${driverName[0]}`);
      ids.push(i);
      return i;
    };
    const run = (...args: string[]) => ['run', '--rootfs', rootfs.dir, '--net', 'none', ...args];
    const mine = (evs: RecordedEvent[], i: string) => evs.filter((e) => e.id === i);
    before(() => (rootfs = makeRootfs()));
    after(() => {
      for (const i of ids) ed(['delete', '--force', i]);
      rootfs.cleanup();
    });

    it('events --json prints create, start, die (exit code), destroy, in order, for a container run meanwhile; SIGINT ends it', async () => {
      // --since now: nothing is missed however long the CLI takes to start (a loaded machine)
      const f = follow(['--since', new Date().toISOString()]);
      const i = id();
      const r = ed(run('--id', i, '--', 'sh', '-c', 'exit 3'));
      assert.equal(r.status, 3, r.stderr);
      await until(() => mine(f.events, i).some((e) => e.type === 'destroy'), 10_000, 'the destroy event');
      const evs = mine(f.events, i);
      assert.deepEqual(evs.map((e) => e.type), ['create', 'start', 'die', 'destroy']);
      assert.equal(evs[2]!.exitCode, 3);
      assert.equal(evs[2]!.signal, undefined);
      assert.ok(evs.every((e) => e.driver === driverName));
      assert.ok(evs[1]!.pid! > 0 && evs[2]!.pid === evs[1]!.pid, 'start and die name the same init');
      const times = evs.map((e) => Date.parse(e.time));
      assert.deepEqual(times, [...times].sort((a, b) => a - b));
      f.proc.kill('SIGINT');
      assert.equal(await f.exited, 0);
    });

    it('an OOM kill that does not end the init is an oom event while it runs, before its die', async () => {
      const f = follow(['--since', new Date().toISOString()]);
      const i = id();
      // a child allocates past the limit and is OOM-killed; the init goes on until it is killed
      const r = ed(run('-d', '--id', i, '-m', '32m', '--memory-swap', '32m', '--', 'sh', '-c', 'dd if=/dev/zero of=/dev/null bs=64M count=1; echo survived; sleep 1000'));
      assert.equal(r.status, 0, r.stderr);
      await until(() => mine(f.events, i).some((e) => e.type === 'oom'), 15_000, 'the oom event');
      assert.equal(ed(['info', i]).stdout.includes('"running": true'), true, 'still running when its oom is reported');
      assert.equal(ed(['kill', i]).status, 0);
      assert.equal(ed(['wait', i]).status, 137);
      await until(() => mine(f.events, i).some((e) => e.type === 'die'), 10_000, 'the die event');
      const evs = mine(f.events, i);
      assert.deepEqual(evs.map((e) => e.type), ['create', 'start', 'oom', 'die']);
      assert.equal(evs[3]!.exitCode, 137);
      assert.equal(evs[3]!.signal, 'SIGKILL');
      f.proc.kill('SIGTERM');
      assert.equal(await f.exited, 0);
      assert.equal(ed(['delete', i]).status, 0);
    });

    it('an OOM kill of the init itself: oom, then die 137', async () => {
      const t0 = Date.now();
      const i = id();
      const r = ed(run('--id', i, '-m', '32m', '--memory-swap', '32m', '--', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'));
      assert.equal(r.status, 137, r.stderr);
      const evs = mine(readEvents(TEST_ROOT, { since: t0 }), i);
      assert.deepEqual(evs.map((e) => e.type), ['create', 'start', 'oom', 'die', 'destroy']);
      assert.equal(evs[3]!.exitCode, 137);
    });

    it("a detached container's die is recorded by its monitor after the CLI that started it has exited", async () => {
      const i = id();
      const r = ed(run('-d', '--id', i, '--', 'sh', '-c', 'sleep 1; exit 4'));
      assert.equal(r.status, 0, r.stderr);
      const cliDone = Date.now(); // spawnSync returned: that CLI process is gone
      assert.equal(mine(readEvents(TEST_ROOT, { since: cliDone - 30_000 }), i).some((e) => e.type === 'die'), false);
      // no wait, no list: nothing of ours looks at it; only its monitor can record the end
      const die = (await until(() => mine(readEvents(TEST_ROOT), i).find((e) => e.type === 'die'), 15_000, 'the die event'))!;
      assert.equal(die.exitCode, 4);
      assert.ok(Date.parse(die.time) >= cliDone, 'recorded after the CLI exited');
      assert.equal(ed(['delete', i]).status, 0);
      assert.equal(mine(readEvents(TEST_ROOT), i).at(-1)?.type, 'destroy');
    });

    it("a detached exec's exec_start and exec_die are its monitor's, once each, exec_die after the CLI exited", async () => {
      const i = id();
      assert.equal(ed(run('-d', '--id', i, '--', 'sleep', '100')).status, 0);
      const r = ed(['exec', '-d', i, '--', 'sh', '-c', 'sleep 1; exit 4']);
      assert.equal(r.status, 0, r.stderr);
      const execId = r.stdout.trim();
      const cliDone = Date.now();
      const ofExec = () => readEvents(TEST_ROOT).filter((e) => e.id === i && e.execId === execId);
      const die = (await until(() => ofExec().find((e) => e.type === 'exec_die'), 15_000, 'the exec_die event'))!;
      assert.equal(die.exitCode, 4);
      assert.ok(Date.parse(die.time) >= cliDone, 'recorded after the CLI exited');
      assert.deepEqual(ofExec().map((e) => e.type), ['exec_start', 'exec_die']);
      assert.equal(ofExec()[0]!.pid, die.pid);
      assert.equal(ed(['delete', '--force', i]).status, 0);
    });

    it('--since and --until: the recorded events of that span, then it exits by itself', async () => {
      const i = id();
      const t0 = new Date().toISOString();
      assert.equal(ed(run('--id', i, '--', 'true')).status, 0);
      const f = follow(['--since', t0, '--until', String(Date.now() / 1000 + 0.2)]);
      assert.equal(await f.exited, 0);
      assert.deepEqual(mine(f.events, i).map((e) => e.type), ['create', 'start', 'die', 'destroy']);
      const text = spawnSync(CLI, ['--root', TEST_ROOT, 'events', '--since', '10m', '--until', '0s'], { encoding: 'utf8' });
      assert.equal(text.status, 0);
      assert.match(text.stdout, new RegExp(`^\\S+Z container die ${i} \\(driver=${driverName}, pid=\\d+, exitCode=0\\)$`, 'm'));
      const bad = spawnSync(CLI, ['--root', TEST_ROOT, 'events', '--since', 'soon'], { encoding: 'utf8' });
      assert.equal(bad.status, 125);
      assert.match(bad.stderr, /--since "soon": not a time/);
    });
  });
}
