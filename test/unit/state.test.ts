import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSameProcessAlive, parseStatStartTime, processStartTime, rootTag } from '../../src/state/index.js';
import { cgroupName } from '../../src/native/template.js';
import { monitorName, payloadName } from '../../src/lxc/cgroup.js';

describe('state', () => {
  it('parses the start time even when the name has spaces and parentheses', () => {
    const line = '1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10';
    assert.equal(parseStatStartTime(line), 98765);
  });
  it('our own process is alive with its start time, not with another', () => {
    const st = processStartTime(process.pid);
    assert.ok(st && st > 0);
    assert.equal(isSameProcessAlive(process.pid, st), true);
    assert.equal(isSameProcessAlive(process.pid, st + 1), false, 'a reused pid does not pass');
    assert.equal(isSameProcessAlive(0, st), false);
  });
});

describe('cgroup names per state root', () => {
  it('the default root keeps the plain names; another root gets @ and 8 hex digits of its path', () => {
    assert.equal(rootTag('/run/execdriver'), '');
    assert.equal(rootTag('/run/execdriver/'), '');
    assert.match(rootTag('/run/other'), /^@[0-9a-f]{8}$/);
    assert.equal(rootTag('/run/other'), rootTag('/run/./other/'));
    assert.notEqual(rootTag('/run/other'), rootTag('/run/other2'));
    assert.equal(cgroupName('/run/execdriver', 'job'), 'job');
    assert.equal(cgroupName('/run/other', 'job'), `job${rootTag('/run/other')}`);
    assert.equal(payloadName('/run/execdriver', 'job'), 'lxc.payload.job');
    assert.equal(monitorName('/run/other', 'job'), `lxc.monitor.job${rootTag('/run/other')}`);
  });
});
