/**
 * Terminals (issue 5): the command line driven through a real pseudo-terminal (test/pty-session.py,
 * python3: Node has no pty API), the library with plain streams, detach keys, and that nothing is
 * left once the containers are gone (no pty, process or fd).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createDriver, type ManagedDriver, type NativeState } from '../../src/index.js';
import { DetachKeys, parseDetachKeys } from '../../src/init/console.js';
import { CLI, makeRootfs, sleep, TEST_ROOT, uniqueId } from '../helpers.js';
import { openFds, PtySession, ptyCount, running } from '../pty.js';

describe('terminals (tty)', () => {
  let rootfs: { dir: string; cleanup: () => void };
  let driver: ManagedDriver;
  let ptys0 = 0;
  const run = (...args: string[]) => ['run', '--net', 'none', '--rootfs', rootfs.dir, ...args];
  const ed = (args: string[]) => spawnSync(CLI, ['--root', TEST_ROOT, ...args], { encoding: 'utf8', timeout: 60_000 });

  before(() => {
    rootfs = makeRootfs();
    driver = createDriver('native', { root: TEST_ROOT });
    ptys0 = ptyCount();
  });
  after(() => {
    for (const s of PtySession.all) s.kill();
    rootfs.cleanup();
  });

  it('run -t -i sh: typed commands, a tty path, our size, its exit code; the terminal restored', async () => {
    const s = new PtySession(30, 100, run('-t', '-i', '--', 'sh'));
    await s.expect(/\/ # /);
    s.type('tty; stty size; exit 5\r');
    assert.equal(await s.code(), 5);
    assert.match(s.out, /\n\/dev\/(pts\/0|console)\n30 100\n/);
    assert.equal(s.mode, 'cooked');
  });

  it('a resize of the outer terminal while attached shows in stty size inside', async () => {
    const s = new PtySession(24, 80, run('-t', '-i', '--', 'sh'));
    await s.expect(/\/ # /);
    s.type('stty size\r');
    await s.expect(/\n24 80\n/);
    s.resize(41, 123);
    for (let i = 0; i < 30 && !/\n41 123\n/.test(s.out); i++) {
      await sleep(200); // SIGWINCH → the CLI → the monitor → TIOCSWINSZ: asynchronous
      s.type('stty size\r');
    }
    await s.expect(/\n41 123\n/, 2000);
    s.type('exit\r');
    assert.equal(await s.code(), 0);
  });

  it('Ctrl-C goes to the container, not to the command line', async () => {
    const s = new PtySession(24, 80, run('-t', '-i', '--', 'sh', '-c', 'trap "echo got-int; exit 4" INT; echo ready; while :; do sleep 0.1; done'));
    await s.expect(/ready\n/);
    s.type('\x03');
    assert.equal(await s.code(), 4);
    assert.match(s.out, /got-int/);
    assert.equal(s.mode, 'cooked');
  });

  it('-t: fds 0 and 1 are a terminal; without -t they are not', async () => {
    const yes = ed(run('-t', '--', 'sh', '-c', 'test -t 0 && test -t 1 && test -t 2 && echo yes'));
    assert.equal(yes.status, 0, yes.stderr);
    assert.equal(yes.stdout, 'yes\r\n');
    const no = ed(run('--', 'sh', '-c', 'test -t 0 || test -t 1 || echo no'));
    assert.equal(no.stdout, 'no\n');
    // in a terminal too, with TERM set; stderr on the same terminal
    const s = new PtySession(24, 80, run('-t', '--', 'sh', '-c', 'test -t 0 && test -t 1 && echo "yes $TERM"; echo err >&2'));
    assert.equal(await s.code(), 0);
    assert.match(s.out, /yes xterm\nerr\n/);
  });

  it('-t -u 1000: the terminal belongs to the user, who can open it by its path', async () => {
    const r = ed(run('-t', '-u', '1000:1000', '--', 'sh', '-c', 'ls -ln "$(tty)" && echo mine > "$(tty)"'));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^c\S+\s+\d+\s+1000\s+1000\s.*\/dev\/pts\/0\r\nmine\r\n$/);
  });

  it('the terminal is restored after a start error and after a signal', async () => {
    const missing = new PtySession(24, 80, run('-t', '-i', '--', 'no-such-program'));
    assert.equal(await missing.code(), 127);
    assert.match(missing.out, /no-such-program.*not found/);
    assert.equal(missing.mode, 'cooked');

    const s = new PtySession(24, 80, run('-t', '-i', '--', 'sh', '-c', 'trap "exit 9" TERM; echo ready; while :; do sleep 0.1; done'));
    await s.expect(/ready\n/);
    s.signal(15); // SIGTERM to the command line: forwarded to the container, which exits 9
    assert.equal(await s.code(), 9);
    assert.equal(s.mode, 'cooked');
  });

  it('-d -t, attach, output while detached, detach keys, re-attach, exit: attach exits with its code', async () => {
    const id = uniqueId('tty');
    const r = ed(run('-d', '-t', '--id', id, '--', 'sh'));
    assert.equal(r.status, 0, r.stderr);
    try {
      const state = JSON.parse(readFileSync(join(TEST_ROOT, 'native', id, 'state.json'), 'utf8')) as NativeState;
      const monitorFds = () => readdirSync(`/proc/${state.monitorPid}/fd`).length;
      const fds0 = monitorFds();

      const a = new PtySession(30, 100, ['attach', id]);
      await a.expect(/\/ # /); // the prompt, printed before anyone attached
      a.type('echo one-$((40+2))\r');
      await a.expect(/one-42\n/);
      a.type('stty size; (sleep 1; echo while-$((1+1))-detached) &\r');
      await a.expect(/\n30 100\n/);
      a.type('\x10\x11'); // Ctrl-P Ctrl-Q
      assert.equal(await a.code(), 0);
      assert.doesNotMatch(a.out, /while-2-detached/);
      assert.equal(driver.info(id).isRunning(), true, 'still running after the detach');

      const log = join(TEST_ROOT, 'native', id, 'container.log');
      const end = Date.now() + 10_000;
      while (!readFileSync(log, 'utf8').includes('while-2-detached') && Date.now() < end) await sleep(50);
      assert.match(readFileSync(log, 'utf8'), /while-2-detached/, 'the output made while detached is logged');

      const b = new PtySession(33, 101, ['attach', '--detach-keys', 'ctrl-a,d', id]);
      await b.expect(/while-2-detached\n/); // kept for this attach
      assert.doesNotMatch(b.out, /one-42/, 'what the first attach saw is not shown again');
      b.type('stty size\r');
      await b.expect(/\n33 101\n/); // the attach's own size
      b.type('\x10\x11'); // not the detach keys of this one: typed through (^P recalls the last line)
      await b.expect(/stty size\S*$/);
      b.type('\x03'); // and cancelled
      await sleep(200);
      b.type('\x01d');
      assert.equal(await b.code(), 0);
      assert.equal(driver.info(id).isRunning(), true);

      const c = new PtySession(24, 80, ['attach', id]); // a third attach, then the end of the container
      await sleep(300);
      c.type('exit 7\r');
      assert.equal(await c.code(), 7, 'attach exits with the exit code of the container');

      const w = ed(['wait', id]);
      assert.equal(w.stdout.trim(), '7');
      assert.ok(fds0 > 0 && !running(state.monitorPid), `monitor ${state.monitorPid} gone (it had ${fds0} fds)`);
      assert.equal(existsSync(join(TEST_ROOT, 'native', id, 'attach.sock')), false);
    } finally {
      ed(['delete', '--force', id]);
    }
  });

  it('kill of a detached tty container: the exit status is recorded; its monitor keeps no fd per attach', async () => {
    const id = uniqueId('tty');
    assert.equal(ed(run('-d', '-t', '--id', id, '--', 'sh')).status, 0);
    try {
      const state = JSON.parse(readFileSync(join(TEST_ROOT, 'native', id, 'state.json'), 'utf8')) as NativeState;
      const monitorFds = () => readdirSync(`/proc/${state.monitorPid}/fd`).length;
      const fds0 = monitorFds();
      for (let i = 0; i < 3; i++) {
        const stdin = new PassThrough();
        const stdout = new PassThrough();
        let out = '';
        stdout.on('data', (d: Buffer) => (out += d.toString()));
        const attached = await driver.attach!(id, { stdin, stdout });
        stdin.write(`echo round-$((${i}+100))\n`);
        while (!out.includes(`round-${i + 100}\r\n`)) await sleep(10);
        attached.detach();
        assert.equal(await attached.done, 'detached');
        await driver.resize!(id, 20 + i, 70);
      }
      await sleep(100);
      assert.equal(monitorFds(), fds0, 'the monitor has as many fds as before the attaches');
      assert.equal(ed(['kill', id]).status, 0);
      const w = ed(['wait', id]);
      assert.equal(w.status, 137);
      assert.equal(w.stdout.trim(), '137'); // docker's format: the code only (the signal is in info)
    } finally {
      ed(['delete', '--force', id]);
    }
  });

  it('library: tty with plain streams and resize leaves no fd in this process', async () => {
    const run1 = async (i: number) => {
      const stdin = new PassThrough();
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (d: Buffer) => (out += d.toString()));
      const id = uniqueId('tty');
      const started = await driver.start(
        { id, rootfs: rootfs.dir, entrypoint: 'sh', arguments: ['-c', 'stty size; read x; stty size; exit 3'], tty: true, network: { mode: 'none' } },
        { pipes: { stdin, stdout } },
      );
      while (!/24 80/.test(out)) await sleep(10);
      if (i % 2) started.resize!(40, 100);
      else await driver.resize!(id, 40, 100);
      await sleep(100);
      stdin.write('go\n');
      assert.equal((await started.exited).exitCode, 3);
      assert.equal(out, '24 80\r\ngo\r\n40 100\r\n');
    };
    await run1(0); // the first one opens what stays (libuv's signal pipe …)
    const fds0 = openFds();
    for (let i = 1; i < 4; i++) await run1(i);
    await sleep(100);
    assert.deepEqual(openFds(), fds0);
  });

  it('detach keys: parsed like Docker, found across chunks, false starts passed on', () => {
    assert.deepEqual([...parseDetachKeys('ctrl-p,ctrl-q')], [16, 17]);
    assert.deepEqual([...parseDetachKeys('ctrl-a,d')], [1, 100]);
    assert.deepEqual([...parseDetachKeys('ctrl-@,ctrl-[,ctrl-_')], [0, 27, 31]);
    assert.deepEqual([...parseDetachKeys('')], []);
    for (const bad of ['ctrl-', 'ctrl-1', 'ab', 'ctrl-p,,x']) assert.throws(() => parseDetachKeys(bad), /invalid detach keys/);
    const k = new DetachKeys(parseDetachKeys('ctrl-p,ctrl-q'));
    assert.deepEqual(k.push(Buffer.from('ab\x10')), { data: Buffer.from('ab'), detach: false });
    assert.deepEqual(k.push(Buffer.from('x\x10\x10')), { data: Buffer.from('\x10x\x10'), detach: false });
    assert.deepEqual(k.push(Buffer.from('\x11rest')), { data: Buffer.from(''), detach: true });
    const none = new DetachKeys(parseDetachKeys(''));
    assert.deepEqual(none.push(Buffer.from('\x10\x11')).data, Buffer.from('\x10\x11'));
  });

  it('nothing left: no pty, no monitor', async () => {
    for (const s of PtySession.all) await s.code(5000);
    const end = Date.now() + 5000;
    while (ptyCount() > ptys0 && Date.now() < end) await sleep(50);
    assert.ok(ptyCount() <= ptys0, `ptys in use: ${ptyCount()}, ${ptys0} before these tests`);
    // (a zombie holds nothing; this machine's pid 1 reaps orphans only now and then)
    const monitors = () =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .map((p) => {
          try {
            return readFileSync(`/proc/${p}/stat`, 'utf8');
          } catch {
            return '';
          }
        })
        .filter((st) => / \(execdriver-init\) [^Z]/.test(st));
    assert.deepEqual(monitors(), []);
  });
});
