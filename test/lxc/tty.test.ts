/**
 * Terminals with the lxc driver (issue 5): lxc-start on a terminal our C monitor keeps. The
 * command line driven through a real pseudo-terminal, detach/attach, resize, --init (lxc-execute),
 * and that nothing is left: no pty, monitor, lxc-start, cgroup or state directory, no fd in the
 * library's process.
 */
import assert from 'node:assert/strict';
import { monitorName, payloadName } from '../../src/lxc/cgroup.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import '../../src/lxc/index.js';
import { LxcDriver, type LxcState } from '../../src/lxc/index.js';
import { CLI, makeRootfs, sleep, TEST_ROOT, uniqueId } from '../helpers.js';
import { openFds, PtySession, ptyCount, running } from '../pty.js';

const CGROUP_MOUNTS = readFileSync('/proc/self/mountinfo', 'utf8')
  .split('\n')
  .filter((l) => / - cgroup2? /.test(l))
  .map((l) => l.split(' ')[4]!);

describe('lxc terminals (tty)', () => {
  let rootfs: { dir: string; cleanup: () => void };
  let driver: LxcDriver;
  let ptys0 = 0;
  const ids: string[] = [];
  const id = () => {
    const i = uniqueId('lt');
    ids.push(i);
    return i;
  };
  const run = (...args: string[]) => ['run', '--driver', 'lxc', '--net', 'none', '--rootfs', rootfs.dir, ...args];
  const ed = (args: string[]) => spawnSync(CLI, ['--root', TEST_ROOT, ...args], { encoding: 'utf8', timeout: 60_000 });
  const stateOf = (i: string) => JSON.parse(readFileSync(join(TEST_ROOT, 'lxc', i, 'state.json'), 'utf8')) as LxcState;

  before(() => {
    rootfs = makeRootfs();
    driver = new LxcDriver({ root: TEST_ROOT });
    ptys0 = ptyCount();
  });
  after(() => {
    for (const s of PtySession.all) s.kill();
    // a failed test may leave a run behind (its command line survives the terminal's hangup)
    for (const i of ids) if (existsSync(join(TEST_ROOT, 'lxc', i))) ed(['delete', '--force', i]);
    rootfs.cleanup();
  });

  it('run -t -i sh: typed commands, a tty path, our size, its exit code; the terminal restored', async () => {
    const s = new PtySession(30, 100, run('--id', id(), '-t', '-i', '--', 'sh'));
    await s.expect(/\/ # /);
    s.type('tty; stty size; exit 5\r');
    assert.equal(await s.code(), 5);
    assert.match(s.out, /\n\/dev\/(pts\/0|console)\n30 100\n/);
    assert.equal(s.mode, 'cooked');
  });

  it('a resize of the outer terminal while attached shows in stty size inside', async () => {
    const s = new PtySession(24, 80, run('--id', id(), '-t', '-i', '--', 'sh'));
    await s.expect(/\/ # /);
    s.type('stty size\r');
    await s.expect(/\n24 80\n/);
    s.resize(41, 123);
    for (let i = 0; i < 30 && !/\n41 123\n/.test(s.out); i++) {
      await sleep(200); // SIGWINCH → the CLI → the monitor → our terminal → lxc-start → LXC's console
      s.type('stty size\r');
    }
    await s.expect(/\n41 123\n/, 2000);
    s.type('exit\r');
    assert.equal(await s.code(), 0);
  });

  it('-t: fds 0-2 are a terminal, stderr merged, output as the native driver gives it; without -t they are pipes', async () => {
    const yes = ed(run('--id', id(), '-t', '--', 'sh', '-c', 'test -t 0 && test -t 1 && test -t 2 && echo "yes $TERM"; echo err >&2'));
    assert.equal(yes.status, 0, yes.stderr);
    assert.equal(yes.stdout, 'yes xterm\r\nerr\r\n');
    assert.equal(yes.stderr, '');
    const no = ed(run('--id', id(), '--', 'sh', '-c', 'test -t 0 || test -t 1 || echo no'));
    assert.equal(no.stdout, 'no\n');
  });

  it('Ctrl-C goes to the container (its console is its controlling terminal), not to the command line', async () => {
    const s = new PtySession(24, 80, run('--id', id(), '-t', '-i', '--', 'sh', '-c', 'trap "echo got-int; exit 4" INT; echo "ready $$"; while :; do sleep 0.1; done'));
    await s.expect(/ready 1\n/); // the command itself is pid 1 (console-exec exec'd it)
    s.type('\x03');
    assert.equal(await s.code(), 4);
    assert.match(s.out, /got-int/);
    assert.equal(s.mode, 'cooked');
    // job control in an interactive shell: ^C ends the foreground job, not the shell
    const j = new PtySession(24, 80, run('--id', id(), '-t', '-i', '--', 'sh'));
    await j.expect(/\/ # /);
    j.type('sleep 100\r');
    await sleep(500);
    j.type('\x03');
    await sleep(300);
    j.type('echo alive; exit 6\r');
    assert.equal(await j.code(), 6);
    assert.match(j.out, /\nalive\n/);
    assert.doesNotMatch(j.out, /job control turned off/);
  });

  it('the terminal is restored after a start error and after a signal; a read-only rootfs and a user work', async () => {
    const missing = new PtySession(24, 80, run('--id', id(), '-t', '-i', '--', 'no-such-program'));
    assert.equal(await missing.code(), 127);
    assert.match(missing.out, /no-such-program.*not found/);
    assert.equal(missing.mode, 'cooked');

    const i = id();
    const s = new PtySession(24, 80, run('--id', i, '--read-only', '-u', '1000', '-t', '-i', '--', 'sh', '-c', 'trap "exit 9" TERM; id -u; echo ready; while :; do sleep 0.1; done'));
    await s.expect(/1000\nready\n/);
    // the command line forwards signals once the start is reported (LXC's log, then lxc-info: the
    // command may print first); state.json gets the pid just before that
    const end = Date.now() + 10_000;
    while (!(existsSync(join(TEST_ROOT, 'lxc', i, 'state.json')) && stateOf(i).pid > 0) && Date.now() < end) await sleep(20);
    await sleep(100);
    s.signal(15); // SIGTERM to the command line: forwarded to the container, which exits 9
    assert.equal(await s.code(), 9);
    assert.equal(s.mode, 'cooked');
  });

  it('--init (lxc-execute) on a terminal: the command in the foreground, Ctrl-C reaches it', async () => {
    const s = new PtySession(24, 80, run('--id', id(), '--init', '-t', '-i', '--', 'sh', '-c', 'trap "echo got-int; exit 4" INT; echo ready; while :; do sleep 0.1; done'));
    await s.expect(/ready\n/);
    s.type('\x03');
    assert.equal(await s.code(), 4);
    assert.match(s.out, /got-int/);
    assert.equal(s.mode, 'cooked');
  });

  it('-d -t, attach, output while detached, detach keys, re-attach, exit: attach exits with its code', async () => {
    const i = id();
    const r = ed(run('-d', '-t', '--id', i, '--', 'sh'));
    assert.equal(r.status, 0, r.stderr);
    try {
      const state = stateOf(i);
      const a = new PtySession(30, 100, ['attach', i]);
      await a.expect(/\/ # /); // the prompt, printed before anyone attached
      a.type('echo one-$((40+2))\r');
      await a.expect(/one-42\n/);
      a.type('stty size; (sleep 1; echo while-$((1+1))-detached) &\r');
      await a.expect(/\n30 100\n/);
      a.type('\x10\x11'); // Ctrl-P Ctrl-Q
      assert.equal(await a.code(), 0);
      assert.doesNotMatch(a.out, /while-2-detached/);
      assert.equal(driver.info(i).isRunning(), true, 'still running after the detach');

      const log = join(TEST_ROOT, 'lxc', i, 'container.log');
      const end = Date.now() + 10_000;
      while (!readFileSync(log, 'utf8').includes('while-2-detached') && Date.now() < end) await sleep(50);
      assert.match(readFileSync(log, 'utf8'), /while-2-detached/, 'the output made while detached is logged');

      const b = new PtySession(33, 101, ['attach', '--detach-keys', 'ctrl-a,d', i]);
      await b.expect(/while-2-detached\n/); // kept for this attach
      assert.doesNotMatch(b.out, /one-42/, 'what the first attach saw is not shown again');
      b.type('stty size\r');
      await b.expect(/\n33 101\n/); // the attach's own size
      b.type('\x01d');
      assert.equal(await b.code(), 0);
      assert.equal(driver.info(i).isRunning(), true);

      const c = new PtySession(24, 80, ['attach', i]); // a third attach, then the end of the container
      await sleep(300);
      c.type('exit 7\r');
      assert.equal(await c.code(), 7, 'attach exits with the exit code of the container');

      const w = ed(['wait', i]);
      assert.equal(w.stdout.trim(), '7');
      assert.ok(!running(state.monitorPid), `monitor ${state.monitorPid} gone`);
      assert.equal(existsSync(join(TEST_ROOT, 'lxc', i, 'attach.sock')), false);
    } finally {
      ed(['delete', '--force', i]);
    }
  });

  it('kill of a detached tty container: the exit status is recorded; attaches leave no fd in the monitor', async () => {
    const i = id();
    assert.equal(ed(run('-d', '-t', '--id', i, '--', 'sh')).status, 0);
    try {
      const state = stateOf(i);
      const monitorFds = () => readdirSync(`/proc/${state.monitorPid}/fd`).length;
      const fds0 = monitorFds();
      for (let n = 0; n < 3; n++) {
        const stdin = new PassThrough();
        const stdout = new PassThrough();
        let out = '';
        stdout.on('data', (d: Buffer) => (out += d.toString()));
        const attached = await driver.attach(i, { stdin, stdout });
        stdin.write(`echo round-$((${n}+100))\n`);
        while (!out.includes(`round-${n + 100}\r\n`)) await sleep(10);
        attached.detach();
        assert.equal(await attached.done, 'detached');
        await driver.resize(i, 20 + n, 70);
      }
      await sleep(100);
      assert.equal(monitorFds(), fds0, 'the monitor has as many fds as before the attaches');
      assert.equal(ed(['kill', i]).status, 0);
      const w = ed(['wait', i]);
      assert.equal(w.status, 137);
      assert.equal(w.stdout.trim(), '137'); // docker's format: the code only (the signal is in info)
    } finally {
      ed(['delete', '--force', i]);
    }
  });

  it('library: tty with plain streams and resize leaves no fd in this process', async () => {
    const run1 = async (n: number) => {
      const stdin = new PassThrough();
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (d: Buffer) => (out += d.toString()));
      const i = id();
      const started = await driver.start(
        { id: i, rootfs: rootfs.dir, entrypoint: 'sh', arguments: ['-c', 'stty size; read x; stty size; exit 3'], tty: true, network: { mode: 'none' } },
        { pipes: { stdin, stdout } },
      );
      while (!/24 80/.test(out)) await sleep(10);
      if (n % 2) started.resize!(40, 100);
      else await driver.resize(i, 40, 100);
      await sleep(100);
      stdin.write('go\n');
      assert.equal((await started.exited).exitCode, 3);
      assert.equal(out, '24 80\r\ngo\r\n40 100\r\n');
    };
    await run1(0); // the first one opens what stays (libuv's signal pipe …)
    const fds0 = openFds();
    for (let n = 1; n < 4; n++) await run1(n);
    await sleep(100);
    assert.deepEqual(openFds(), fds0);
  });

  it('nothing left: no pty, monitor, lxc-start, cgroup or state directory', async () => {
    for (const s of PtySession.all) await s.code(5000);
    const end = Date.now() + 5000;
    while (ptyCount() > ptys0 && Date.now() < end) await sleep(50);
    assert.ok(ptyCount() <= ptys0, `ptys in use: ${ptyCount()}, ${ptys0} before these tests`);
    const procs = () => {
      try {
        return execFileSync('pgrep', ['-af', 'execdriver-init|lxc-start|lxc-execute'], { encoding: 'utf8' })
          .split('\n')
          .filter((l) => l !== '' && (ids.some((i) => l.includes(i)) || l.includes('execdriver-init')))
          .filter((l) => running(Number(l.split(' ')[0])));
      } catch {
        return [];
      }
    };
    assert.deepEqual(procs(), []);
    for (const i of ids) {
      assert.equal(existsSync(join(TEST_ROOT, 'lxc', i)), false, `state of ${i}`);
      for (const m of CGROUP_MOUNTS) {
        for (const n of [payloadName(TEST_ROOT, i), monitorName(TEST_ROOT, i)]) assert.equal(existsSync(join(m, n)), false, join(m, n));
      }
    }
  });
});
