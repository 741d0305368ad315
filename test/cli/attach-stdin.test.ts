/**
 * Issue 12 (habits): `attach` to a container run -d -i without a terminal: our stdin reaches its
 * stdin, its output comes back, the detach keys leave it running, our EOF does not close its stdin
 * (Docker's run -d -i: no stdin-once); without -i nothing is written to it; create -i / -t, start,
 * and restart of a -t container. Both drivers.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, makeRootfs, TEST_ROOT, uniqueId } from '../helpers.js';

const DRIVERS = ['native', 'lxc'] as const;
let rootfs: { dir: string; cleanup: () => void };

const ed = (args: string[], input?: string): SpawnSyncReturns<string> =>
  spawnSync(CLI, ['--root', TEST_ROOT, ...args], { encoding: 'utf8', timeout: 60_000, ...(input !== undefined ? { input } : {}) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ECHO = ['sh', '-c', 'while read l; do echo "got $l"; done; echo eof; exit 3'];

/** attach, feeding INPUT (chunks with pauses), until it exits */
function attach(args: string[], chunks: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const p = spawn(CLI, ['--root', TEST_ROOT, 'attach', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  void (async () => {
    await sleep(500); // attached: it follows the output from now
    for (const c of chunks) {
      if (c === '<EOF>') p.stdin.end();
      else if (c === '<WAIT>') await sleep(1000); // its answer is there before we detach
      else p.stdin.write(c);
      await sleep(300);
    }
  })();
  const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
  return new Promise((res) => p.on('close', (code) => (clearTimeout(timer), res({ code, out, err }))));
}

describe('attach -i without a terminal (issue 12, habits)', () => {
  before(() => (rootfs = makeRootfs()));
  after(() => rootfs.cleanup());

  for (const driver of DRIVERS) {
    const run = (args: string[], cmd: string[]) => ed(['--driver', driver, 'run', '--net', 'none', '--rootfs', rootfs.dir, ...args, '--', ...cmd]);
    const running = (id: string) => (JSON.parse(ed(['inspect', id]).stdout) as { running: boolean }).running;

    it(`${driver}: run -d -i: typed lines reach it, the detach keys leave it running, our EOF does not close its stdin`, async () => {
      const id = uniqueId('haba');
      assert.equal(run(['-d', '-i', '--name', id], ECHO).status, 0);
      try {
        assert.ok(existsSync(join(TEST_ROOT, driver, id, 'stdin')));
        // Ctrl-P Ctrl-Q: detached, 0; what follows the keys is not sent
        const a = await attach([id], ['one\n', '<WAIT>', '\x10\x11two\n']);
        assert.equal(a.code, 0, a.err);
        assert.equal(a.out, 'got one\n');
        assert.equal(a.err, '');
        assert.ok(running(id));
        // our EOF: its stdin stays open (it goes on running), attach follows until it exits
        const b = attach(['--detach-keys', 'ctrl-a,d', id], ['three\n', '<EOF>']);
        await sleep(2000);
        assert.ok(running(id), 'still running after the EOF of an attach');
        const c = await attach(['--detach-keys=ctrl-a,d', id], ['four\n', '<WAIT>', '\x01d']);
        assert.equal(c.code, 0);
        assert.equal(c.out, 'got four\n');
        assert.equal(ed(['kill', '-s', 'KILL', id]).status, 0);
        const bb = await b;
        assert.equal(bb.code, 137);
        assert.ok(bb.out.startsWith('got three\n'), bb.out);
        assert.equal(ed(['logs', id]).stdout.split('\n').filter((l) => l.startsWith('got')).join(), 'got one,got three,got four');
        // a stopped container: one line, nothing attached
        const d = ed(['attach', id], 'x\n');
        assert.equal(d.status, 125);
        assert.equal(d.stderr, `execdriver: container ${id}: is not running (start it first)\n`);
      } finally {
        ed(['rm', '-f', id]);
      }
    });

    it(`${driver}: without -i its stdin is not attached; --no-stdin sends nothing`, async () => {
      const id = uniqueId('habn');
      assert.equal(run(['-d', '--name', id], ECHO).status, 0);
      try {
        assert.ok(!existsSync(join(TEST_ROOT, driver, id, 'stdin')));
        assert.equal(ed(['wait', id]).stdout, '3\n'); // its stdin is empty: EOF at once
        assert.equal(ed(['logs', id]).stdout, 'eof\n');
      } finally {
        ed(['rm', '-f', id]);
      }
      const j = uniqueId('habn');
      assert.equal(run(['-d', '-i', '--name', j], ECHO).status, 0);
      try {
        const a = attach(['--no-stdin', j], ['nothing\n', '<EOF>']);
        await sleep(1500);
        assert.equal(ed(['kill', j]).status, 0);
        assert.deepEqual(await a, { code: 137, out: '', err: '' });
        assert.equal(ed(['logs', j]).stdout, '');
      } finally {
        ed(['rm', '-f', j]);
      }
    });

    it(`${driver}: create -i, start, attach; restart keeps -i`, async () => {
      const id = uniqueId('habc');
      assert.equal(ed(['--driver', driver, 'create', '-i', '--net', 'none', '--rootfs', rootfs.dir, '--name', id, '--', ...ECHO]).status, 0);
      try {
        assert.equal(ed(['start', id]).stdout, `${id}\n`);
        const a = await attach([id], ['x\n', '<WAIT>', '\x10\x11']);
        assert.equal(a.out, 'got x\n');
        assert.equal(ed(['restart', '-t', '0', id]).status, 0);
        assert.ok(existsSync(join(TEST_ROOT, driver, id, 'stdin')));
        const b = await attach([id], ['y\n', '<WAIT>', '\x10\x11']);
        assert.equal(b.out, 'got y\n');
      } finally {
        ed(['rm', '-f', id]);
      }
    });

    it(`${driver}: restart of a -d -t container: a new terminal, the same command`, async () => {
      const id = uniqueId('habr');
      assert.equal(run(['-d', '-t', '--name', id], ['sh', '-c', 'echo started; exec sleep 100']).status, 0);
      try {
        await sleep(300);
        const r = ed(['restart', '-t', '0', id]);
        assert.equal(r.status, 0, r.stderr);
        const t0 = Date.now();
        while (!ed(['logs', id]).stdout.includes('started') && Date.now() - t0 < 5000) await sleep(100);
        assert.equal(ed(['logs', id]).stdout, 'started\r\n'); // the old run's output went with it
        assert.ok(running(id));
      } finally {
        ed(['rm', '-f', id]);
      }
    });
  }
});
