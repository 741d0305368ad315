/**
 * `exec --tty --console-socket S --detach` (and `--process` with `terminal: true`), as containerd's
 * shim, conmon and `docker exec -it` use it: a new terminal of the container's devpts, the process's
 * fds 0-2 and controlling terminal; its master sent over the unix socket with SCM_RIGHTS before the
 * CLI returns; the process reaped by the caller (a python subreaper here, test/oci/exec-console.py).
 * Bad uses are refused with one --log line, nothing started.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { uniqueId } from '../helpers.js';
import { makeBundle, OCI, oci, OCI_ROOT, type Bundle } from './bundle.js';

const SHIM = new URL('../../../test/oci/exec-console.py', import.meta.url).pathname;
const SCRIPT = 'tty; stty size; read x; echo got-$x; exit 5';

interface Got {
  exec: number;
  stderr?: string;
  name: string;
  isatty: boolean;
  before: boolean;
  pid: number;
  containerDevpts: boolean;
  hostDevpts: boolean;
  ctty: boolean;
  fds: boolean[];
  status: number;
  out: string;
}

describe('execdriver-oci exec with a console socket', () => {
  let b: Bundle;
  const id = uniqueId('ociexectty');
  let n = 0;
  before(() => {
    b = makeBundle('exec sleep 120');
    const c = oci(['create', '--bundle', b.dir, id]);
    assert.equal(c.status, 0, c.stderr);
    const s = oci(['start', id]);
    assert.equal(s.status, 0, s.stderr);
  });
  after(() => {
    oci(['delete', '--force', id]);
    b.cleanup();
    rmSync(OCI_ROOT, { recursive: true, force: true });
  });

  /** The shim: listens on a console socket, runs `exec --detach --console-socket ... ARGS`, types TYPED. */
  const shim = (typed: string, args: string[]): Got => {
    n++;
    const r = spawnSync('python3', [SHIM, OCI, OCI_ROOT, join(b.dir, `c${n}.sock`), join(b.dir, `e${n}.pid`), typed, ...args], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!) as Got;
    assert.equal(got.exec, 0, got.stderr);
    return got;
  };
  const checkTerminal = (got: Got) => {
    assert.equal(got.isatty, true, 'a terminal master came over the socket');
    assert.equal(got.name, '/dev/ptmx');
    assert.equal(got.before, true, 'the master was sent before exec returned');
    assert.equal(got.containerDevpts, true, "the slave is of the container's devpts");
    assert.equal(got.hostDevpts, false, "the slave is not of the host's devpts");
    assert.equal(got.ctty, true, 'the slave is its controlling terminal');
    assert.deepEqual(got.fds, [true, true, true], 'the slave is its fds 0-2');
  };

  it('exec --tty --console-socket --detach: the caller holds the master and reaps the process', () => {
    const got = shim('hello\n', ['--tty', id, 'sh', '-c', SCRIPT]);
    checkTerminal(got);
    const lines = got.out.split('\r\n');
    assert.match(lines[0]!, /^\/dev\/pts\/\d+$/);
    assert.equal(lines[1], '24 80');
    assert.ok(lines.includes('got-hello'), got.out);
    assert.equal(got.status, 5);
    assert.equal(Number(readFileSync(join(b.dir, `e${n}.pid`), 'utf8')), got.pid, 'the pid file');
  });

  it('--process with terminal: true and consoleSize, as another user', () => {
    const proc = join(b.dir, 'process.json');
    writeFileSync(
      proc,
      JSON.stringify({
        terminal: true, consoleSize: { height: 33, width: 101 }, args: ['sh', '-c', 'tty; stty size; read x; echo got-$x; id -u; exit 7'],
        env: ['PATH=/bin', 'TERM=xterm'], cwd: '/', user: { uid: 1000, gid: 1000 },
      }),
    );
    const got = shim('from-shim\n', ['--process', proc, id]);
    checkTerminal(got);
    const lines = got.out.split('\r\n');
    assert.match(lines[0]!, /^\/dev\/pts\/\d+$/);
    assert.equal(lines[1], '33 101');
    assert.ok(lines.includes('got-from-shim'), got.out);
    assert.ok(lines.includes('1000'), got.out);
    assert.equal(got.status, 7);
  });

  it('bad uses are refused with one clear --log line, and start nothing', () => {
    const sock = join(b.dir, 'c1.sock'); // a socket from the first case (nobody listens)
    const cases: [string[], RegExp][] = [
      [['--tty', '--detach'], /a detached exec with a terminal .* needs --console-socket/],
      [['--console-socket', sock, '--detach'], /--console-socket needs a terminal/],
      [['--console-socket', sock, '--tty'], /--console-socket needs --detach/],
      [['--console-socket', join(b.dir, 'none.sock'), '--tty', '--detach'], /console socket .*none\.sock: no such file/],
      [['--console-socket', join(b.dir, 'config.json'), '--tty', '--detach'], /config\.json is not a unix socket/],
    ];
    const log = join(b.dir, 'log.json');
    for (const [flags, want] of cases) {
      rmSync(log, { force: true });
      const r = oci(['--log', log, '--log-format', 'json', 'exec', ...flags, id, 'sh', '-c', 'touch /tmp/ran']);
      assert.notEqual(r.status, 0, flags.join(' '));
      const lines = readFileSync(log, 'utf8').trim().split('\n');
      assert.equal(lines.length, 1, lines.join('\n'));
      const l = JSON.parse(lines[0]!) as { level: string; msg: string };
      assert.equal(l.level, 'error');
      assert.match(l.msg, want);
    }
    const ps = JSON.parse(oci(['ps', '--format', 'json', id]).stdout) as number[];
    assert.equal(ps.length, 1, 'only the init runs');
    assert.throws(() => readFileSync(join(b.rootfs, 'tmp/ran')), 'nothing ran');
  });
});
