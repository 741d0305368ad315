// The command line's output without a terminal: our fds 1 and 2 go to the container's monitor,
// which copies the container's output to them (log-relay socket); the container only ever holds
// one-way sockets of the monitor's, as it held Node's sockets when Node relayed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDriver, ExecDriverError } from '../../src/index.js';
import { CLI, makeRootfs, TEST_ROOT, uniqueId } from '../helpers.js';

let rootfs: { dir: string; cleanup: () => void };
let tmp: string;
const runArgs = (cmd: string[], extra: string[] = []) => ['--root', TEST_ROOT, 'run', '--net', 'none', '--rootfs', rootfs.dir, ...extra, '--', ...cmd];
const sh = (script: string) => ['sh', '-c', script];

describe('command line: the container output relayed by its monitor', () => {
  before(() => {
    rootfs = makeRootfs();
    tmp = mkdtempSync(join(tmpdir(), 'edrelay-'));
  });
  after(() => {
    rootfs.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('stdout and stderr reach our files, in order; the container holds one-way sockets, not the files', () => {
    const out = join(tmp, 'out');
    const err = join(tmp, 'err');
    const [o, e] = [openSync(out, 'w'), openSync(err, 'w')];
    try {
      const r = spawnSync(CLI, runArgs(sh('echo one; echo two >&2; readlink /proc/self/fd/1; readlink /proc/self/fd/2; cat /proc/self/fd/1 2>/dev/null || echo no-reopen; cat <&1 2>/dev/null; echo after-read; echo three; exit 4')), { stdio: ['ignore', o, e], timeout: 60_000 });
      assert.equal(r.status, 4);
    } finally {
      closeSync(o);
      closeSync(e);
    }
    const lines = readFileSync(out, 'utf8').split('\n');
    assert.equal(lines[0], 'one');
    assert.match(lines[1]!, /^socket:\[\d+\]$/, 'fd 1 in the container is a socket');
    assert.match(lines[2]!, /^socket:\[\d+\]$/, 'fd 2 in the container is a socket');
    assert.notEqual(lines[1], lines[2], 'one each');
    assert.equal(lines[3], 'no-reopen', 'opening /proc/self/fd/1 fails (ENXIO), it does not hang');
    assert.equal(lines[4], 'after-read', 'reading its own fd 1 gets nothing (EOF), at once');
    assert.equal(lines[5], 'three');
    assert.equal(readFileSync(err, 'utf8'), 'two\n');
  });

  it('appends to a file opened for appending, after what is there', () => {
    const out = join(tmp, 'appended');
    spawnSync('sh', ['-c', `echo before > ${out}`]);
    const r = spawnSync('sh', ['-c', `"$@" >> ${out}`, 'sh', CLI, ...runArgs(sh('echo from-the-container'))], { timeout: 60_000 });
    assert.equal(r.status, 0, String(r.stderr));
    assert.equal(readFileSync(out, 'utf8'), 'before\nfrom-the-container\n');
  });

  it('a reader that stops reading (| head) neither hangs the run nor changes its exit status', () => {
    const r = spawnSync('bash', ['-c', '"$@" | head -c 4; echo " ${PIPESTATUS[0]}"', 'bash', CLI, ...runArgs(sh('yes | head -c 3000000; exit 7'))], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.stdout, 'y\ny\n 7\n', 'the container ran to its end: its output was dropped, not blocked');
  });

  it('a non-blocking pipe with a slow reader gets every byte (the relay waits, it does not drop)', () => {
    // python makes the pipe and, once the run is under way (Node's spawn makes a child's fds 0-2
    // blocking), sets O_NONBLOCK on it (the description we share with the monitor), then reads slowly
    const py = `
import fcntl, os, subprocess, sys, time
r, w = os.pipe()
p = subprocess.Popen(sys.argv[1:], stdout=w, stderr=subprocess.DEVNULL)
time.sleep(0.5)
fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
os.close(w)
n = 0
while True:
    b = os.read(r, 65536)
    if not b:
        break
    n += len(b)
    time.sleep(0.01)
print(n, p.wait())
`;
    const r = spawnSync('python3', ['-c', py, CLI, ...runArgs(sh('yes | head -c 2000000'))], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.stdout.trim(), '2000000 0', r.stderr);
  });

  it('exec: the same relay, the process holds sockets', () => {
    const id = uniqueId('rel');
    const started = spawnSync(CLI, runArgs(['sleep', '1000'], ['-d', '--id', id]), { encoding: 'utf8', timeout: 60_000 });
    assert.equal(started.status, 0, started.stderr);
    try {
      const r = spawnSync(CLI, ['--root', TEST_ROOT, 'exec', id, 'sh', '-c', 'readlink /proc/self/fd/1; echo e >&2; exit 5'], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 5);
      assert.match(r.stdout, /^socket:\[\d+\]\n$/);
      assert.equal(r.stderr, 'e\n');
    } finally {
      spawnSync(CLI, ['--root', TEST_ROOT, 'rm', '-f', id], { timeout: 60_000 });
    }
  });
});

describe('library: a descriptor of ours as the output', () => {
  before(() => {
    rootfs = makeRootfs();
  });
  after(() => rootfs.cleanup());

  it('is copied to by the monitor; the container holds a socket', async () => {
    const d = createDriver('native', { root: TEST_ROOT });
    const file = join(mkdtempSync(join(tmpdir(), 'edrelayfd-')), 'out');
    const fd = openSync(file, 'w');
    try {
      const st = await d.run({ id: uniqueId('relfd'), rootfs: rootfs.dir, entrypoint: 'sh', arguments: ['-c', 'echo hi; readlink /proc/self/fd/1'], network: { mode: 'none' } }, { stdout: fd, stderr: fd });
      assert.equal(st.exitCode, 0);
    } finally {
      closeSync(fd);
    }
    assert.match(readFileSync(file, 'utf8'), /^hi\nsocket:\[\d+\]\n$/);
    rmSync(join(file, '..'), { recursive: true, force: true });
  });

  it('a descriptor that is not open is refused before anything is made', async () => {
    const d = createDriver('native', { root: TEST_ROOT });
    const id = uniqueId('relbad');
    await assert.rejects(
      d.run({ id, rootfs: rootfs.dir, entrypoint: 'true', arguments: [], network: { mode: 'none' } }, { stdout: 987_654 }),
      (e: unknown) => e instanceof ExecDriverError && e.code === 'ERR_INVALID_CONFIG' && /pipes\.stdout: 987654 is not an open file descriptor/.test(e.message),
    );
    assert.equal(existsSync(join(TEST_ROOT, 'native', id)), false);
  });

  it('the lxc driver takes one too (relayed in Node there)', async () => {
    const d = createDriver('lxc', { root: TEST_ROOT });
    const file = join(mkdtempSync(join(tmpdir(), 'edrelaylxc-')), 'out');
    const fd = openSync(file, 'w');
    try {
      const st = await d.run({ id: uniqueId('rellxc'), rootfs: rootfs.dir, entrypoint: 'sh', arguments: ['-c', 'echo via-lxc'], network: { mode: 'none' } }, { stdout: fd });
      assert.equal(st.exitCode, 0);
    } finally {
      closeSync(fd);
    }
    assert.equal(readFileSync(file, 'utf8'), 'via-lxc\n');
    rmSync(join(file, '..'), { recursive: true, force: true });
  });
});
