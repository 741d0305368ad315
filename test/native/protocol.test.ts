// The plan protocol between TypeScript and the C init: the two op tables cannot drift (names,
// kinds, arity, the version), and an init of another version refuses a plan with an error that
// names both versions and the command that rebuilds it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { INIT_BINARY, MonitorChannel, protocolMismatch } from '../../src/init/monitor.js';
import { encodeFrame, encodePlan, type ContainerOp, type Op } from '../../src/init/protocol.js';
import { describeOp, initProtocolOf, OPS, PROTOCOL_VERSION, type OpName } from '../../src/init/protocol.js';

/** What `execdriver-init protocol` prints: the version line, then NAME KIND ARITY lines. */
function initTable(): { version: string; ops: string[] } {
  const r = spawnSync(INIT_BINARY, ['protocol'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [first = '', ...ops] = r.stdout.trimEnd().split('\n');
  return { version: first, ops };
}

/** Send raw frames (no protocol header of ours) to a fresh monitor; every frame it answers. */
async function answer(frames: string[][]): Promise<{ frames: string[][]; code: number | null }> {
  const monitor = MonitorChannel.spawn(['ignore', 'ignore', 'ignore'], 'cinit-protocol');
  for (const f of frames) monitor.send(...f);
  const got: string[][] = [];
  for (let f = await monitor.next(); f; f = await monitor.next()) got.push(f);
  await monitor.closed();
  return { frames: got, code: monitor.child.exitCode };
}

/** Send a plan of ours (with the protocol frame) to a fresh monitor; every frame it answers. */
async function answerPlan(ops: Op[]): Promise<{ frames: string[][]; code: number | null }> {
  const monitor = MonitorChannel.spawn(['ignore', 'ignore', 'ignore'], 'cinit-protocol');
  monitor.sendPlan(ops);
  const got: string[][] = [];
  for (let f = await monitor.next(); f; f = await monitor.next()) got.push(f);
  await monitor.closed();
  return { frames: got, code: monitor.child.exitCode };
}

describe('the plan protocol', () => {
  it('the C init has exactly the ops of src/init/protocol.ts: names, kinds, arity, version', () => {
    const c = initTable();
    assert.equal(c.version, `protocol ${PROTOCOL_VERSION}`);
    const ts = (Object.keys(OPS) as OpName[]).map(describeOp);
    assert.deepEqual(c.ops, ts); // the same order too: one table, read side by side
  });

  it('a plan of another version is refused before anything runs, naming both versions', async () => {
    const r = await answer([['protocol', '999'], ['clone', '0'], ['exec', '', '/bin/true'], ['end']]);
    assert.equal(r.code, 2);
    assert.equal(r.frames.length, 1, JSON.stringify(r.frames));
    const [tag, step, errno, path, message] = r.frames[0]!;
    assert.deepEqual([tag, step, errno, path], ['error', 'protocol#-1', '71', '999']);
    assert.match(message!, new RegExp(`plan protocol 999, this execdriver-init speaks protocol ${PROTOCOL_VERSION}: rebuild it`));
    assert.equal(initProtocolOf(r.frames[0]), PROTOCOL_VERSION);
    const err = protocolMismatch(r.frames[0], 'cinit-protocol');
    assert.equal(err?.code, 'ERR_SYSTEM');
    assert.match(err!.message, /speaks plan protocol \d+, this execdriver speaks plan protocol \d+: rebuild it: run `npm run build`$/);
  });

  it('a plan without the protocol frame (an older execdriver) is refused too', async () => {
    const r = await answer([['clone', '0'], ['exec', '', '/bin/true'], ['end']]);
    assert.equal(r.code, 2);
    assert.equal(r.frames[0]?.[1], 'protocol#-1');
    assert.match(r.frames[0]![4]!, /a plan without a protocol version \(it starts with clone\)/);
  });

  it("an older init's answer (no protocol op) is recognised as a mismatch", () => {
    const old = ['error', 'plan#0', '22', 'protocol', 'unknown op protocol'];
    assert.equal(initProtocolOf(old), 0);
    assert.match(protocolMismatch(old)!.message, /an older plan protocol \(unversioned\)/);
    assert.equal(protocolMismatch(['error', 'mount#7', '2', '/x', 'mount x']), undefined);
  });

  it('mkfifo: the monitor makes the fifo before the clone, its mode exactly as given; a failure comes before pid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edfifo-'));
    try {
      const fifo = join(dir, 'exec.fifo');
      const monitor = MonitorChannel.spawn(['ignore', 'ignore', 'ignore'], 'cinit-protocol');
      monitor.sendPlan([['mkfifo', fifo, '0622'], ['exec', '', '/bin/true']]);
      assert.equal((await monitor.next())?.[0], 'pid');
      const st = statSync(fifo);
      assert.ok(st.isFIFO());
      assert.equal(st.mode & 0o7777, 0o622, 'the mode given, not less the umask');
      monitor.send('go');
      for (let f = await monitor.next(); f; f = await monitor.next()) if (f[0] === 'exit') break;
      await monitor.closed();
      // it exists now: EEXIST, reported before any clone
      const again = await answerPlan([['mkfifo', fifo, '0622'], ['exec', '', '/bin/true']]);
      assert.equal(again.frames.length, 1, JSON.stringify(again.frames));
      const [tag, step, errno, path, message] = again.frames[0]!;
      assert.deepEqual([tag, errno, path, message], ['error', '17', fifo, 'make the exec fifo']);
      assert.match(step!, /^mkfifo#\d+$/);
      const bad = await answerPlan([['mkfifo', 'relative', '0622'], ['exec', '', '/bin/true']]);
      assert.match(bad.frames[0]![4]!, /mkfifo relative is not an absolute path/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a plan of our version runs', async () => {
    const monitor = MonitorChannel.spawn(['ignore', 'ignore', 'ignore'], 'cinit-protocol');
    monitor.sendPlan([['exec', '', '/bin/true']]);
    assert.equal((await monitor.next())?.[0], 'pid');
    monitor.send('go');
    assert.deepEqual(await monitor.next(), ['started']);
    assert.deepEqual((await monitor.next())?.slice(0, 3), ['exit', '0', '0']);
    await monitor.closed();
  });

  it('a plan that comes in pieces, with a field larger than one read, is read whole and in order', async () => {
    // the monitor peeks at what has come and consumes only whole frames (native/framebuf.c)
    const big = 'x'.repeat(100_000);
    const monitor = MonitorChannel.spawn(['ignore', 'ignore', 'ignore'], 'cinit-protocol');
    const pause = () => new Promise((r) => setTimeout(r, 20));
    monitor.send('protocol', String(PROTOCOL_VERSION));
    await pause();
    monitor.send('env', `BIG=${big}`);
    monitor.send('env', 'SMALL=1');
    await pause();
    monitor.send('exec', '', '/bin/sh', '-c', `test "\${#BIG}" = ${big.length} && test "$SMALL" = 1`);
    await pause();
    monitor.send('end');
    assert.equal((await monitor.next())?.[0], 'pid');
    monitor.send('go'); // read after the plan, not taken with it
    assert.deepEqual(await monitor.next(), ['started']);
    assert.deepEqual((await monitor.next())?.slice(0, 3), ['exit', '0', '0']);
    await monitor.closed();
  });

  it('run-plan checks the version of its file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'execdriver-cinit-protocol-'));
    try {
      const file = join(dir, 'plan');
      const ops: ContainerOp[] = [['exec', '/bin', 'true']];
      writeFileSync(file, encodePlan(ops));
      assert.equal(spawnSync(INIT_BINARY, ['run-plan', file]).status, 0);
      writeFileSync(file, Buffer.concat([encodeFrame(['protocol', '0']), encodeFrame(['exec', '/bin', 'true']), encodeFrame(['end'])]));
      const r = spawnSync(INIT_BINARY, ['run-plan', file], { encoding: 'utf8' });
      assert.equal(r.status, 125);
      assert.match(r.stderr, /plan protocol 0, this execdriver-init speaks protocol \d+: rebuild it/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ops are typed: a misspelt op or a wrong number of arguments does not compile', () => {
    const ok: Op[] = [['mount', '', 'dev', 'tmpfs', '0', '', 'dir'], ['exec', '', '/bin/sh', '-c', 'true'], ['net-helper', '/x']];
    // @ts-expect-error: no such op
    const misspelt: Op = ['mnt', '', 'dev', 'tmpfs', '0', '', 'dir'];
    // @ts-expect-error: mount takes six arguments
    const short: Op = ['mount', '', 'dev'];
    // @ts-expect-error: exec needs a search path and a command
    const noCommand: Op = ['exec', ''];
    // @ts-expect-error: a run-plan file holds container ops only
    const monitorOp: ContainerOp = ['clone', '0'];
    assert.equal([ok, misspelt, short, noCommand, monitorOp].length, 5);
  });
});
