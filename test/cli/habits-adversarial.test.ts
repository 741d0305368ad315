/**
 * Issue 12 (habits): what an adversarial pass as a Docker user found, fixed: each error one line
 * naming the flag, 125, nothing created; --device HOST:DST with --userns remap on both drivers.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, makeRootfs, TEST_ROOT, uniqueId } from '../helpers.js';

const DRIVERS = ['native', 'lxc'] as const;
let rootfs: { dir: string; cleanup: () => void };
const ed = (args: string[]): SpawnSyncReturns<string> => spawnSync(CLI, ['--root', TEST_ROOT, ...args], { encoding: 'utf8', timeout: 60_000 });
const ids = (driver: string) => (existsSync(join(TEST_ROOT, driver)) ? readdirSync(join(TEST_ROOT, driver)).sort() : []);

describe('adversarial habits (issue 12, habits)', () => {
  before(() => (rootfs = makeRootfs()));
  after(() => rootfs.cleanup());

  for (const driver of DRIVERS) {
    it(`${driver}: errors name the flag typed, one line, 125, nothing made`, () => {
      const before = ids(driver);
      for (const [args, msg] of [
        [['--env-file', '/nope'], /^execdriver: --env-file "\/nope": cannot be read/], // not Node's own --env-file (exit 9)
        [['-w', 'relative'], /^execdriver: -w "relative" must be an absolute path/],
        [['--group-add', 'nosuchgroup'], /^execdriver: --group-add: no group "nosuchgroup"/],
        [['--tmpfs', '/x:bogus'], /^execdriver: --tmpfs: unknown tmpfs option "bogus"/],
        [['-v', 'rel:/x'], /^execdriver: -v "rel" must be an absolute host path/],
      ] as const) {
        const r = ed(['--driver', driver, 'run', '--net', 'none', '--rootfs', rootfs.dir, ...args, '--', 'true']);
        assert.equal(r.status, 125, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, msg);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      }
      const c = ed(['--driver', driver, 'create', '--net', 'none', '--rootfs', rootfs.dir, '--group-add', 'nosuchgroup', '--', 'true']);
      assert.equal(c.status, 125);
      assert.match(c.stderr, /^execdriver: --group-add: /);
      assert.deepEqual(ids(driver), before);
    });

    it(`${driver}: --device HOST:DST with --userns remap (the host's node bound)`, () => {
      const r = ed(['--driver', driver, 'run', '--net', 'none', '--rootfs', rootfs.dir, '--userns', 'remap', '--device', '/dev/null:/dev/mynull', '--',
        'sh', '-c', 'stat -c "%t:%T" /dev/mynull; echo x > /dev/mynull && echo written']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '1:3\nwritten\n');
      assert.ok(!existsSync(join(rootfs.dir, 'dev/mynull')));
    });
  }

  it('ps --filter without a value, a bad status; port ID PORT', () => {
    for (const f of ['label', 'status=bogus']) {
      const r = ed(['ps', '--filter', f]);
      assert.equal(r.status, 125);
      assert.match(r.stderr, new RegExp(`^execdriver: --filter "${f}": `));
    }
    const id = uniqueId('habp');
    assert.equal(ed(['run', '-d', '--net', 'none', '--rootfs', rootfs.dir, '--name', id, '--', 'sleep', '100']).status, 0);
    try {
      assert.deepEqual([ed(['port', id]).status, ed(['port', id]).stdout], [0, '']);
      const p = ed(['port', id, '80']);
      assert.equal(p.status, 125);
      assert.equal(p.stderr, `execdriver: port: no public port 80/tcp published for ${id}\n`);
      assert.match(ed(['port', id, '80/sctp']).stderr, /"80\/sctp" is not PORT\[\/tcp\|udp\]/);
    } finally {
      ed(['rm', '-f', id]);
    }
  });
});
