/**
 * Issue 12 (habits): `cp` of directories both ways, Docker's rules (a trailing /., an existing
 * target directory, DST/ must exist), links copied as links and never followed out of the
 * container's root, modes and times kept, owners (the container's root in, ours out, -a kept),
 * a stopped container (its own overlay layer, the rootfs untouched), a user namespace. Both drivers.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chownSync, chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, makeRootfs, TEST_ROOT, uniqueId } from '../helpers.js';

const DRIVERS = ['native', 'lxc'] as const;
let rootfs: { dir: string; cleanup: () => void };
const HOST = `/tmp/execdriver-habits-cp-${process.pid}`;

const ed = (args: string[]): SpawnSyncReturns<string> => spawnSync(CLI, ['--root', TEST_ROOT, ...args], { encoding: 'utf8', timeout: 60_000 });
const inside = (id: string, script: string) => {
  const r = ed(['exec', id, '--', 'sh', '-c', script]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
};
const sleep = (ms: number) => spawnSync('sleep', [String(ms / 1000)]);

describe('cp of directories (issue 12, habits)', () => {
  before(() => {
    rootfs = makeRootfs();
    // a host tree: modes, an owner, a link that points out, a fifo, a time
    mkdirSync(`${HOST}/tree/sub`, { recursive: true });
    writeFileSync(`${HOST}/tree/a`, 'a\n');
    chmodSync(`${HOST}/tree/a`, 0o4750);
    writeFileSync(`${HOST}/tree/sub/b`, 'b\n');
    chownSync(`${HOST}/tree/sub/b`, 1000, 1000);
    chmodSync(`${HOST}/tree/sub`, 0o700);
    symlinkSync('/etc/passwd', `${HOST}/tree/link`);
    spawnSync('mkfifo', [`${HOST}/tree/fifo`]);
    utimesSync(`${HOST}/tree/sub/b`, 1_000_000_000, 1_000_000_000);
    mkdirSync(`${HOST}/out`);
  });
  after(() => {
    rootfs.cleanup();
    rmSync(HOST, { recursive: true, force: true });
  });

  for (const driver of DRIVERS) {
    const run = (args: string[], cmd: string[]) => ed(['--driver', driver, 'run', '--net', 'none', '--rootfs', rootfs.dir, ...args, '--', ...cmd]);
    const SETUP = 'mkdir -p /data/x; echo in > /data/x/f; chmod 600 /data/x/f; chown 1000:2000 /data/x; ln -s / /data/up; ln -s /etc /data/etc; ';

    it(`${driver}: host → running container: into a directory, as a new one, its contents (/.); owners, modes, links, times`, () => {
      const id = uniqueId('habcp');
      assert.equal(run(['-d', '--name', id], ['sh', '-c', `${SETUP}sleep 100`]).status, 0);
      try {
        const t0 = Date.now();
        while (ed(['exec', id, '--', 'test', '-L', '/data/etc']).status !== 0 && Date.now() - t0 < 5000) sleep(100);
        assert.equal(ed(['cp', `${HOST}/tree`, `${id}:/tmp`]).status, 0); // an existing directory: under its name
        assert.equal(
          inside(id, 'cd /tmp/tree && stat -c "%n %a %u:%g" a sub sub/b && readlink link && test -p fifo && stat -c %Y sub/b && cat a sub/b'),
          'a 4750 0:0\nsub 700 0:0\nsub/b 644 0:0\n/etc/passwd\n1000000000\na\nb\n',
        );
        assert.equal(ed(['cp', '-a', `${HOST}/tree/.`, `${id}:/tmp/new`]).status, 0); // missing: made, the contents
        assert.equal(inside(id, 'stat -c "%u:%g" /tmp/new/sub/b; ls /tmp/new | tr "\\n" " "'), '1000:1000\na fifo link sub ');
        assert.equal(ed(['cp', `${HOST}/tree/.`, `${id}:/tmp/new`]).status, 0); // existing: merged into
        assert.equal(inside(id, 'ls /tmp/new | tr "\\n" " "; stat -c "%u" /tmp/new/sub/b'), 'a fifo link sub 0\n');
        // through the container's link to its /etc: its own, never the host's
        assert.equal(ed(['cp', `${HOST}/tree/sub`, `${id}:/data/etc/`]).status, 0);
        assert.equal(inside(id, 'cat /etc/sub/b'), 'b\n');
        assert.ok(!existsSync('/etc/sub'));
        // bad input: one line, 125, nothing made
        for (const [args, msg] of [
          [[`${HOST}/tree/a`, `${id}:/nope/`], /the destination directory .* must exist/],
          [[`${HOST}/tree`, `${id}:/data/x/f`], /cannot copy a directory .* to a file/],
          [[`${HOST}/nope`, `${id}:/tmp`], /no such file or directory/],
          [[`${HOST}/tree/a/`, `${id}:/tmp`], /not a directory/],
          [[`${HOST}/tree`, `${id}:/nope/deeper/x`], /cp: .*No such file or directory/],
        ] as const) {
          const r = ed(['cp', ...args]);
          assert.equal(r.status, 125, `${args.join(' ')}: ${r.stderr}`);
          assert.match(r.stderr, msg);
          assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        }
        assert.equal(inside(id, 'ls / | grep -c nope || true'), '0\n');
      } finally {
        ed(['rm', '-f', id]);
      }
    });

    it(`${driver}: running container → host: a directory with its links as links; owners ours, -a the container's`, () => {
      const id = uniqueId('habco');
      const out = join(HOST, 'out', driver);
      assert.equal(run(['-d', '--name', id], ['sh', '-c', `${SETUP}sleep 100`]).status, 0);
      try {
        const t0 = Date.now();
        while (ed(['exec', id, '--', 'test', '-L', '/data/etc']).status !== 0 && Date.now() - t0 < 5000) sleep(100);
        assert.equal(ed(['cp', `${id}:/data`, out]).status, 0); // missing: made as it
        assert.deepEqual(readdirSync(out).sort(), ['etc', 'up', 'x']);
        assert.equal(readlinkSync(join(out, 'up')), '/');
        assert.ok(lstatSync(join(out, 'etc')).isSymbolicLink());
        assert.equal(readFileSync(join(out, 'x/f'), 'utf8'), 'in\n');
        assert.equal(statSync(join(out, 'x/f')).mode & 0o7777, 0o600);
        assert.equal(statSync(join(out, 'x')).uid, 0);
        assert.equal(ed(['cp', '-a', `${id}:/data`, out]).status, 0); // existing: under its name
        assert.equal(statSync(join(out, 'data/x')).uid, 1000);
        assert.equal(statSync(join(out, 'data/x')).gid, 2000);
        // a path through its link to /: its own root's file
        assert.equal(ed(['cp', `${id}:/data/up/etc/passwd`, join(out, 'pw')]).status, 0);
        assert.equal(readFileSync(join(out, 'pw'), 'utf8'), readFileSync(join(rootfs.dir, 'etc/passwd'), 'utf8'));
      } finally {
        ed(['rm', '-f', id]);
        rmSync(out, { recursive: true, force: true });
      }
    });

    it(`${driver}: a stopped container: its own files both ways, the rootfs untouched`, () => {
      const id = uniqueId('habcs');
      const out = join(HOST, 'out', `${driver}-stopped`);
      const before = readdirSync(rootfs.dir).sort();
      assert.equal(run(['-d', '--name', id], ['sh', '-c', SETUP]).status, 0);
      try {
        assert.equal(ed(['wait', id]).stdout, '0\n');
        assert.equal(ed(['cp', `${HOST}/tree`, `${id}:/data/`]).status, 0);
        assert.equal(ed(['cp', `${id}:/data/.`, out]).status, 0);
        assert.deepEqual(readdirSync(out).sort(), ['etc', 'tree', 'up', 'x']);
        assert.equal(readFileSync(join(out, 'tree/sub/b'), 'utf8'), 'b\n');
        assert.deepEqual(readdirSync(rootfs.dir).sort(), before, 'the rootfs is not written');
        // started again, it sees what was copied in
        assert.equal(ed(['start', id]).status, 0);
        assert.equal(ed(['wait', id]).stdout, '0\n');
      } finally {
        ed(['rm', '-f', id]);
        rmSync(out, { recursive: true, force: true });
      }
      assert.ok(!spawnSync('grep', ['-c', id, '/proc/self/mountinfo'], { encoding: 'utf8' }).stdout.startsWith('1'), 'nothing left mounted');
    });
  }

  it('native: --userns remap: copied in as its root (its ids inside), -a the source ids', () => {
    const id = uniqueId('habcu');
    assert.equal(ed(['run', '-d', '--userns', 'remap', '--net', 'none', '--rootfs', rootfs.dir, '--name', id, '--', 'sleep', '100']).status, 0);
    try {
      assert.equal(ed(['cp', `${HOST}/tree`, `${id}:/tmp/`]).status, 0);
      assert.equal(inside(id, 'stat -c "%u:%g" /tmp/tree/sub/b; cat /tmp/tree/sub/b'), '0:0\nb\n');
      assert.equal(ed(['cp', '-a', `${HOST}/tree`, `${id}:/tmp/t2`]).status, 0);
      assert.equal(inside(id, 'stat -c "%u:%g" /tmp/t2/sub/b /tmp/t2/a'), '1000:1000\n0:0\n');
    } finally {
      ed(['rm', '-f', id]);
    }
  });
});
