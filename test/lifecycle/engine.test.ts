/** The lifecycle engine's pure parts: exit statuses from raw wait statuses, the start-failure classifier, the status machine, the settling rule. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { constants as os } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { verdictOf, type AnyRecord } from '../../src/lifecycle/engine.js';
import { exitStatusFromWait, exitStatusOf, exitStatusOfFrame, waitStatusOf } from '../../src/lifecycle/exit.js';
import { classifyStartFailure } from '../../src/lifecycle/failure.js';
import { checkTransition, createRecord, self } from '../../src/lifecycle/record.js';
import { listIds, StateDir } from '../../src/state/index.js';

describe('exit statuses from the raw wait status', () => {
  it('exit codes and signals', () => {
    assert.deepEqual(exitStatusFromWait(0, 0), { exitCode: 0, oomKilled: false });
    assert.deepEqual(exitStatusFromWait(3 << 8, 0), { exitCode: 3, oomKilled: false });
    assert.deepEqual(exitStatusFromWait(9, 1), { exitCode: 137, oomKilled: true, signal: 'SIGKILL' });
    assert.deepEqual(exitStatusFromWait(15 | 0x80, 0), { exitCode: 143, oomKilled: false, signal: 'SIGTERM' }); // core dumped
    for (const [code, sig] of [[0, 0], [1, 0], [255, 0], [0, 9], [0, 2]] as const) {
      const raw = waitStatusOf(code, sig);
      assert.equal(exitStatusFromWait(raw, 0).exitCode, sig ? 128 + sig : code);
    }
  });
  it('records and frames: the raw status wins, older ones fall back on code and signal', () => {
    assert.equal(exitStatusOf({ exitCode: 0, signal: 0, oomKills: 0, finishedAt: 0, status: 9 }).exitCode, 137);
    assert.equal(exitStatusOf({ exitCode: 137, signal: 9, oomKills: 0, finishedAt: 0 }).signal, 'SIGKILL');
    assert.equal(exitStatusOfFrame(['exit', '7', '0', '-1', String(7 << 8)]).exitCode, 7);
    assert.equal(exitStatusOfFrame(['exit', '130', '2', '-1']).signal, 'SIGINT');
  });
});

describe('one classifier of failed start steps', () => {
  it('127, 126, 125', () => {
    const nf = classifyStartFailure('c', { step: 'exec#12', errno: os.errno.ENOENT, path: '/nope' });
    assert.equal(nf.code, 'ERR_EXEC_NOT_FOUND');
    assert.equal(nf.exitCode, 127);
    assert.match(nf.message, /executable "\/nope" not found/);
    const ne = classifyStartFailure('c', { step: 'exec', errno: os.errno.EACCES, path: '/notexec' });
    assert.equal(ne.exitCode, 126);
    const other = classifyStartFailure('c', { step: 'mount#3', errno: os.errno.EPERM, path: '/x', message: 'mount /x' });
    assert.equal(other.code, 'ERR_START_FAILED');
    assert.equal(other.exitCode, 125);
    assert.match(other.message, /mount \/x: .*\(init step mount#3\)/);
    assert.match(classifyStartFailure('c', { step: 'chdir', errno: os.errno.ENOENT, path: '/w', message: 'working directory' }).message, /^.*working directory \/w: /);
  });
});

describe('the status machine and the settling rule', () => {
  it('only forward transitions', () => {
    checkTransition('c', 'creating', 'created');
    checkTransition('c', 'created', 'running');
    checkTransition('c', 'running', 'paused');
    checkTransition('c', 'paused', 'running');
    checkTransition('c', 'running', 'stopped');
    assert.throws(() => checkTransition('c', 'stopped', 'running'), /cannot go from stopped to running/);
    assert.throws(() => checkTransition('c', 'running', 'creating'));
  });
  const rec = (o: Partial<AnyRecord>): AnyRecord => ({
    version: 1, id: 'c', driver: 'native', status: 'running', owner: { pid: 1, startTime: 1 }, pid: 10, startTime: 1,
    monitorPid: 11, monitorStartTime: 1, detached: false, createdAt: '', startedAt: null, command: [], cgroupPaths: [], extra: {}, ...o,
  });
  const live = (pids: number[]) => (p: { pid: number } | undefined) => !!p && pids.includes(p.pid);
  it('who owns what', () => {
    assert.equal(verdictOf(rec({ status: 'creating' }), live([1])), 'keep');
    assert.equal(verdictOf(rec({ status: 'creating' }), live([11])), 'remove');
    assert.equal(verdictOf(rec({ status: 'created', detached: true }), live([10, 11])), 'remove');
    assert.equal(verdictOf(rec({ status: 'running' }), live([10, 11])), 'remove'); // foreground, its caller gone
    assert.equal(verdictOf(rec({ status: 'running' }), live([1])), 'keep');
    assert.equal(verdictOf(rec({ status: 'running', detached: true }), live([10, 11])), 'keep');
    assert.equal(verdictOf(rec({ status: 'running', detached: true }), live([10])), 'reclaim'); // monitor gone: killed, kept as ended
    assert.equal(verdictOf(rec({ status: 'running', detached: true }), live([])), 'reclaim');
    assert.equal(verdictOf(rec({ status: 'stopped', detached: true }), live([])), 'keep'); // reclaimed when it was written stopped
    assert.equal(verdictOf(rec({ status: 'stopped' }), live([])), 'remove');
    assert.equal(verdictOf(rec({ terminating: { pid: 5, startTime: 1 } }), live([1, 5])), 'keep');
    assert.equal(verdictOf(rec({ terminating: { pid: 5, startTime: 1 } }), live([1])), 'remove');
  });
  it('a record is created with its directory, in one step; a taken id is refused', () => {
    const root = mkdtempSync(join(tmpdir(), 'execdriver-rec-'));
    try {
      const state = new StateDir(root, 'native', 'a');
      const r = createRecord(state, { id: 'a', driver: 'native', detached: false, createdAt: 'now', command: ['x'], cgroupPaths: [], extra: {} });
      assert.equal(r.status, 'creating');
      assert.deepEqual(r.owner, self());
      assert.equal(state.readJson<AnyRecord>('state.json')?.status, 'creating');
      assert.throws(() => createRecord(state, { id: 'a', driver: 'native', detached: false, createdAt: 'now', command: [], cgroupPaths: [], extra: {} }), { code: 'ERR_CONTAINER_EXISTS' });
      assert.deepEqual(readdirSync(join(root, 'native')), ['a']);
      assert.deepEqual(listIds(root, 'native'), ['a']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
