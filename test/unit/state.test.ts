import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isSameProcessAlive, parseStatStartTime, processStartTime, ROOT_TAG_FILE, rootTag } from '../../src/state/index.js';
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

describe('the root tag kept in the root', () => {
  // a fresh process each time: a process remembers the tags it computed
  const tagOf = (root: string) =>
    execFileSync(process.execPath, ['--input-type=module', '-e', `const { rootTag } = await import(${JSON.stringify(new URL('../../src/state/index.js', import.meta.url).href)}); process.stdout.write(rootTag(process.argv[1]))`, root], { encoding: 'utf8' });
  it('is written on first use, read back by the next process, and only for the same path', () => {
    const root = mkdtempSync(join(tmpdir(), 'edtag-'));
    try {
      const sha = `@${createHash('sha256').update(root).digest('hex').slice(0, 8)}`;
      assert.equal(tagOf(root), sha);
      assert.equal(readFileSync(join(root, ROOT_TAG_FILE), 'utf8'), `${root}\n${sha}\n`);
      writeFileSync(join(root, ROOT_TAG_FILE), `${root}\n@0badc0de\n`);
      assert.equal(tagOf(root), '@0badc0de', 'the kept tag is what a later process uses');
      writeFileSync(join(root, ROOT_TAG_FILE), `/somewhere/else\n@0badc0de\n`);
      assert.equal(tagOf(root), sha, 'a tag kept for another path (a moved root) is not used');
      writeFileSync(join(root, ROOT_TAG_FILE), `${root}\nnot-a-tag\n`);
      assert.equal(tagOf(root), sha, 'nor one that is not a tag');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
