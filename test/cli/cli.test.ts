import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, makeRootfs, TEST_ROOT, uniqueId } from '../helpers.js';

let rootfs: { dir: string; cleanup: () => void };
const ed = (args: string[], input?: string): SpawnSyncReturns<string> =>
  spawnSync(CLI, ['--root', TEST_ROOT, ...args], { encoding: 'utf8', timeout: 60_000, ...(input !== undefined ? { input } : {}) });
const run = (args: string[], cmd: string[], input?: string) => ed(['run', '--net', 'none', '--rootfs', rootfs.dir, ...args, '--', ...cmd], input);

describe('command line', () => {
  before(() => {
    rootfs = makeRootfs();
  });
  after(() => rootfs.cleanup());

  it('run exits with the container exit code, and prints its output', () => {
    const r = run(['--hostname', 'clibox'], ['sh', '-c', 'hostname; exit 3']);
    assert.equal(r.status, 3);
    assert.equal(r.stdout, 'clibox\n');
  });

  it('run without -- and options after the command belong to the command', () => {
    const r = ed(['run', '--net', 'none', '--rootfs', rootfs.dir, 'sh', '-c', 'echo "$0 $1"', 'a', '-b']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, 'a -b\n');
  });

  it('-i passes stdin; without it stdin is empty', () => {
    assert.equal(run(['-i'], ['cat'], 'piped\n').stdout, 'piped\n');
    assert.equal(run([], ['cat'], 'piped\n').stdout, '');
  });

  it('125, 126, 127 like docker run', () => {
    const missing = run([], ['no-such-program']);
    assert.equal(missing.status, 127);
    assert.match(missing.stderr, /no-such-program.*not found/);
    assert.equal(run([], ['/notexec']).status, 126);
    const bad = ed(['run', '--rootfs', '/nonexistent', '--', 'true']);
    assert.equal(bad.status, 125);
    assert.match(bad.stderr, /rootfs \/nonexistent does not exist/);
    const size = run(['-m', '12q'], ['true']);
    assert.equal(size.status, 125);
    assert.match(size.stderr, /12q/);
    const vol = run(['-v', 'relative:/x'], ['true']);
    assert.equal(vol.status, 125);
    assert.match(vol.stderr, /absolute/);
    const cap = run(['--cap-add', 'BOGUS'], ['true']);
    assert.equal(cap.status, 125);
    assert.match(cap.stderr, /unknown capability "BOGUS"/);
  });

  it('detached: id printed; pids, info, list, kill, wait, delete', () => {
    const id = uniqueId('cli');
    const r = run(['-d', '--id', id], ['sleep', '1000']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), id);
    try {
      const info = JSON.parse(ed(['info', id]).stdout);
      assert.equal(info.id, id);
      assert.equal(info.running, true);
      assert.match(info.driver, /^native-/);
      assert.ok(info.pid > 0);
      assert.equal(info.configPath, join(TEST_ROOT, 'native', id, 'container.json'));
      assert.ok(existsSync(info.configPath));
      const pids = ed(['pids', id]).stdout.trim().split('\n').map(Number);
      assert.ok(pids.includes(info.pid));
      assert.match(ed(['list']).stdout, new RegExp(`^${id}\\s+native-\\S+\\s+${info.pid}\\s+running`, 'm'));
      assert.ok(JSON.parse(ed(['list', '--json']).stdout).some((c: { id: string }) => c.id === id));
      assert.equal(ed(['kill', id, 'KILL']).status, 0);
      const w = ed(['wait', id]);
      assert.equal(w.status, 137);
      assert.equal(w.stdout.trim(), '137'); // docker's format: the code only (the signal is in info)
      const after = JSON.parse(ed(['info', id]).stdout);
      assert.equal(after.running, false);
      assert.equal(after.exitCode, 137);
      assert.equal(after.signal, 'SIGKILL');
    } finally {
      assert.equal(ed(['delete', '--force', id]).status, 0);
    }
    assert.equal(existsSync(join(TEST_ROOT, 'native', id)), false);
    const gone = ed(['info', id]);
    assert.equal(gone.status, 125);
    assert.match(gone.stderr, /no such container/);
  });

  it('kill TERM reaches a trap (42); --init makes TERM end sleep (143); terminate', () => {
    const a = uniqueId('cli');
    run(['-d', '--id', a], ['sh', '-c', 'trap "exit 42" TERM; while :; do sleep 1; done']);
    ed(['kill', a, 'TERM']);
    assert.equal(ed(['wait', a]).status, 42);
    ed(['delete', a]);

    const b = uniqueId('cli');
    run(['-d', '--init', '--id', b], ['sleep', '1000']);
    ed(['kill', b, 'TERM']);
    assert.equal(ed(['wait', b]).status, 143);
    ed(['delete', b]);

    const c = uniqueId('cli');
    run(['-d', '--id', c], ['sleep', '1000']);
    assert.equal(ed(['terminate', c]).status, 0);
    assert.equal(existsSync(join(TEST_ROOT, 'native', c)), false);
  });

  it('a detached container keeps its output for logs', () => {
    const id = uniqueId('cli');
    run(['-d', '--id', id], ['sh', '-c', 'echo out; echo err >&2']);
    ed(['wait', id]);
    const logs = ed(['logs', id]);
    assert.deepEqual([logs.stdout, logs.stderr], ['out\n', 'err\n']); // each on its stream, as Docker's
    ed(['delete', id]);
  });

  it('a duplicate id is refused with 125', () => {
    const id = uniqueId('cli');
    run(['-d', '--id', id], ['sleep', '1000']);
    try {
      const r = run(['--id', id], ['true']);
      assert.equal(r.status, 125);
      assert.match(r.stderr, /already exists/);
    } finally {
      ed(['terminate', id]);
    }
  });

  it('--help on every verb', () => {
    assert.match(ed(['--help']).stdout, /Verbs:/);
    for (const v of ['run', 'kill', 'terminate', 'pids', 'info', 'list', 'wait', 'delete', 'logs']) {
      const r = ed([v, '--help']);
      assert.equal(r.status, 0, v);
      assert.match(r.stdout, new RegExp(`execdriver ${v}`));
    }
    const unknown = ed(['frobnicate']);
    assert.equal(unknown.status, 125);
    assert.match(unknown.stderr, /unknown verb "frobnicate"/);
  });
});
