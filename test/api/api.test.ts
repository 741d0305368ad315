/**
 * The library layer (src/api/), on both drivers with real containers: handles and their streams,
 * cancelling and time limits, captured output, lifecycle events.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { createDriver, ExecDriverError, type Command, type ContainerEvent, type ManagedDriver } from '../../src/index.js';
import { makeRootfs, TEST_ROOT, uniqueId } from '../helpers.js';

const CGROUP_MOUNTS = readFileSync('/proc/self/mountinfo', 'utf8')
  .split('\n')
  .filter((l) => / - cgroup2? /.test(l))
  .map((l) => l.split(' ')[4]!);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whatever of the container is still on the machine. */
function leftOf(driverName: string, id: string, pid?: number): string[] {
  const left: string[] = [];
  const state = join(TEST_ROOT, driverName, id);
  if (existsSync(state)) left.push(state);
  for (const m of CGROUP_MOUNTS) {
    for (const dir of [join(m, 'execdriver'), m]) {
      if (!existsSync(dir)) continue;
      for (const e of readdirSync(dir)) if (e.includes(id)) left.push(join(dir, e));
    }
  }
  if (pid && alive(pid)) left.push(`pid ${pid}`);
  return left;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<ExecDriverError & { status?: { exitCode: number; signal?: string } }> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ExecDriverError, `an ExecDriverError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e as ExecDriverError & { status?: { exitCode: number } };
  }
  assert.fail(`expected ${code}`);
}

for (const driverName of ['native', 'lxc'] as const) {
  describe(`library api: ${driverName}`, () => {
    let driver: ManagedDriver;
    let rootfs: { dir: string; cleanup: () => void };
    const sh = (script: string, over: Partial<Command> = {}): Command & { id: string } => ({
      id: uniqueId(`api${driverName[0]}`),
      rootfs: rootfs.dir,
      network: { mode: 'none' },
      entrypoint: 'sh',
      arguments: ['-c', script],
      ...over,
    });

    before(() => {
      driver = createDriver(driverName, { root: TEST_ROOT });
      rootfs = makeRootfs();
    });
    after(() => rootfs.cleanup());

    it('an already-aborted signal refuses before anything is created', async () => {
      const c = sh('true');
      const e = await rejectsWith(driver.run(c, { signal: AbortSignal.abort() }), 'ERR_ABORTED');
      assert.equal(e.name, 'AbortError');
      assert.deepEqual(leftOf(driverName, c.id), []);
    });

    it('bad options are refused before anything is created', async () => {
      const c = sh('true');
      await rejectsWith(driver.run(c, { timeout: -1 }), 'ERR_INVALID_CONFIG');
      await rejectsWith(driver.run(c, { killSignal: 'TERM' as NodeJS.Signals }), 'ERR_INVALID_CONFIG');
      await rejectsWith(driver.start(c, { stdio: 'pipe', pipes: { stdout: new PassThrough() } }), 'ERR_INVALID_CONFIG');
      await rejectsWith(driver.run(c, { capture: true, stdout: new PassThrough() }), 'ERR_INVALID_CONFIG');
      await rejectsWith(driver.run(c, { capture: true, maxBuffer: 0 }), 'ERR_INVALID_CONFIG');
      await rejectsWith(driver.start(c, { detach: true, timeout: 10 }), 'ERR_INVALID_CONFIG');
      assert.deepEqual(leftOf(driverName, c.id), []);
    });

    it('aborting a run kills it within 1 s, rejects ERR_ABORTED with the status, leaves nothing', async () => {
      const c = sh('sleep 10');
      const ac = new AbortController();
      let pid = 0;
      const p = driver.run(c, { signal: ac.signal }, (info) => {
        pid = info.pid;
        setTimeout(() => ac.abort(), 50);
      });
      const t0 = Date.now();
      const e = await rejectsWith(p, 'ERR_ABORTED');
      const ms = Date.now() - t0;
      assert.ok(ms < 1000, `rejected in ${ms} ms`);
      assert.equal(e.name, 'AbortError');
      assert.equal(e.status?.exitCode, 137);
      assert.equal(e.status?.signal, 'SIGKILL');
      assert.ok(pid > 0);
      assert.deepEqual(leftOf(driverName, c.id, pid), []);
    });

    it('timeout: 200 on sleep 10 rejects ERR_TIMEOUT and leaves nothing', async () => {
      const c = sh('sleep 10');
      let pid = 0;
      const t0 = Date.now();
      const e = await rejectsWith(driver.run(c, { timeout: 200 }, (i) => (pid = i.pid)), 'ERR_TIMEOUT');
      const ms = Date.now() - t0;
      assert.ok(ms < 1500 + (driverName === 'lxc' ? 1500 : 0), `rejected in ${ms} ms`);
      assert.equal(e.status?.exitCode, 137);
      assert.deepEqual(leftOf(driverName, c.id, pid), []);
    });

    it('a cancel asked for while the container starts takes effect once it runs (start + signal)', async () => {
      const c = sh('sleep 10');
      const ac = new AbortController();
      const p = driver.start(c, { signal: ac.signal, timeout: 60_000 });
      ac.abort(new Error('changed my mind'));
      const h = await p;
      const e = await rejectsWith(h.exited, 'ERR_ABORTED');
      assert.equal((e.cause as Error).message, 'changed my mind');
      assert.equal(e.status?.exitCode, 137);
      assert.deepEqual(leftOf(driverName, c.id, h.pid), []);
    });

    it('killSignal SIGTERM: a trapping shell ends by TERM (no SIGKILL needed)', async () => {
      const c = sh('trap "echo got-term; exit 42" TERM; echo ready; while :; do sleep 0.05; done');
      const h = await driver.start(c, { stdio: 'pipe', timeout: 300, killSignal: 'SIGTERM', killGraceMs: 5000 });
      let out = '';
      h.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const t0 = Date.now();
      const e = await rejectsWith(h.exited, 'ERR_TIMEOUT');
      assert.ok(Date.now() - t0 < 4000, 'ended well before the grace period');
      assert.equal(e.status?.exitCode, 42);
      assert.match(out, /got-term/);
      assert.deepEqual(leftOf(driverName, c.id, h.pid), []);
    });

    it('capture: stdout and stderr as strings, Buffers with encoding buffer, input to stdin', async () => {
      const r = await driver.run(sh('echo out; echo err >&2; exit 3'), { capture: true });
      assert.deepEqual([r.exitCode, r.stdout, r.stderr, r.oomKilled], [3, 'out\n', 'err\n', false]);
      const b = await driver.run(sh('printf "\\001\\002"'), { capture: true, encoding: 'buffer' });
      assert.ok(Buffer.isBuffer(b.stdout));
      assert.deepEqual([...b.stdout], [1, 2]);
      const i = await driver.run(sh('tr a-z A-Z'), { capture: true, input: 'hello' });
      assert.equal(i.stdout, 'HELLO');
    });

    it('maxBuffer exceeded kills the container and reports it with what was captured', async () => {
      const c = sh('while :; do echo 0123456789; done');
      const e = (await rejectsWith(driver.run(c, { capture: true, maxBuffer: 4096 }), 'ERR_MAX_BUFFER')) as ExecDriverError & {
        stdout?: string;
        status?: { exitCode: number };
      };
      assert.equal(e.name, 'MaxBufferError');
      assert.equal(e.stdout?.length, 4096);
      assert.ok(e.stdout?.startsWith('0123456789\n'));
      assert.equal(e.status?.exitCode, 137);
      assert.deepEqual(leftOf(driverName, c.id), []);
    });

    it('pipeline(handle.stdout, transform, sink) completes; stdin through the handle', async () => {
      const h = await driver.start(sh('cat; echo done'), { stdio: 'pipe' });
      let got = '';
      const upper = new Transform({ transform: (chunk: Buffer, _e, cb) => cb(null, chunk.toString().toUpperCase()) });
      const sink = new Writable({ write: (chunk: Buffer, _e, cb) => ((got += chunk.toString()), cb()) });
      const piped = pipeline(h.stdout!, upper, sink);
      h.stdin!.write('abc\n');
      h.stdin!.end('def\n');
      await piped;
      assert.equal(got, 'ABC\nDEF\nDONE\n');
      assert.equal((await h.exited).exitCode, 0);
      assert.equal(typeof h.pid, 'number');
      assert.throws(() => h.resize(10, 10), /no terminal/);
    });

    it("the caller's own streams are ended with the output (unless end: false)", async () => {
      const out = new PassThrough();
      let text = '';
      out.on('data', (d: Buffer) => (text += d.toString()));
      const ended = pipeline(out, new Writable({ write: (_c, _e, cb) => cb() }));
      await driver.run(sh('echo hi'), { stdout: out });
      await ended;
      assert.equal(text, 'hi\n');
      const keep = new PassThrough();
      keep.resume();
      await driver.run(sh('echo hi'), { stdout: keep, end: false });
      assert.equal(keep.writableEnded, false);
      keep.end();
    });

    it('handle.kill signals the container', async () => {
      const h = await driver.start(sh('sleep 10'));
      await h.kill('SIGKILL');
      const s = await h.exited;
      assert.equal(s.exitCode, 137);
      assert.deepEqual(leftOf(driverName, h.id, h.pid), []);
    });

    const N = 20;
    it(`${N} captured runs in Promise.all each get their own output`, async () => {
      const cs = Array.from({ length: N }, (_, i) => sh(`echo run-${i}; echo err-${i} >&2`));
      const rs = await Promise.all(cs.map((c) => driver.run(c, { capture: true })));
      rs.forEach((r, i) => {
        assert.equal(r.stdout, `run-${i}\n`);
        assert.equal(r.stderr, `err-${i}\n`);
        assert.equal(r.id, cs[i]!.id);
      });
    });

    it('events: create, start, die (exit code), destroy, in order, for two containers; the iterator ends on break', async () => {
      const events = driver.events();
      const a = sh('exit 1');
      const b = sh('sleep 0.2; exit 2');
      const runs = Promise.all([driver.run(a), driver.run(b)]);
      const seen: ContainerEvent[] = [];
      for await (const ev of events) {
        if (ev.id !== a.id && ev.id !== b.id) continue;
        seen.push(ev);
        if (seen.filter((e) => e.type === 'destroy').length === 2) break;
      }
      await runs;
      for (const c of [a, b]) {
        const mine = seen.filter((e) => e.id === c.id).map((e) => e.type);
        assert.deepEqual(mine, ['create', 'start', 'die', 'destroy']);
      }
      const dieB = seen.find((e) => e.id === b.id && e.type === 'die');
      assert.equal(dieB?.exitCode, 2);
      assert.equal(dieB?.driver, driverName);
      // broken out of: nothing is left behind
      const r = await events.next();
      assert.equal(r.done, true);
    });

    it('events: an OOM kill is reported (oom, then die 137 SIGKILL)', async () => {
      const ac = new AbortController();
      const events = driver.events({ signal: ac.signal });
      const c: Command = {
        ...sh(''),
        entrypoint: 'dd',
        arguments: ['if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'],
        resources: { memory: 32 * 1024 * 1024, memorySwap: 32 * 1024 * 1024 },
      };
      const run = driver.run(c);
      const seen: string[] = [];
      for await (const ev of events) {
        if (ev.id !== c.id) continue;
        seen.push(ev.type === 'die' ? `die:${ev.exitCode}:${ev.signal}` : ev.type);
        if (ev.type === 'die') break;
      }
      const status = await run;
      assert.equal(status.oomKilled, true);
      assert.deepEqual(seen, ['create', 'start', 'oom', 'die:137:SIGKILL']);
    });
  });
}
