import assert from 'node:assert/strict';
import { it } from 'node:test';
import { AbortedError, CancelledError, ExecDriverError, MaxBufferError, TimeoutError } from '../../src/errors.js';

it('cancel errors: stable codes, Node-like names, the exit status carried', () => {
  const status = { exitCode: 137, signal: 'SIGKILL' as const, oomKilled: false };
  const a = new AbortedError('c1', status, new Error('why'));
  const t = new TimeoutError('c1', 200, status);
  const m = new MaxBufferError('c1', 'stdout', 10, status);
  for (const e of [a, t, m]) {
    assert.ok(e instanceof ExecDriverError && e instanceof CancelledError);
    assert.deepEqual(e.status, status);
    assert.equal(e.exitCode, 137);
    assert.equal(e.containerId, 'c1');
  }
  assert.deepEqual([a.code, a.name], ['ERR_ABORTED', 'AbortError']);
  assert.equal((a.cause as Error).message, 'why');
  assert.deepEqual([t.code, t.name, t.timeout], ['ERR_TIMEOUT', 'TimeoutError', 200]);
  assert.deepEqual([m.code, m.name], ['ERR_MAX_BUFFER', 'MaxBufferError']);
  assert.equal(t.message, 'container c1: timed out after 200 ms: the container was killed');
  assert.equal(new AbortedError('c2').exitCode, 125, 'refused before start: no status');
});
