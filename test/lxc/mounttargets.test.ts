/**
 * Mount targets for the lxc driver, made inside the rootfs by the C init's resolver
 * (`execdriver-init mkpath`): symlinks as the container sees them, never out of the rootfs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeMountTargets, MountTargetError } from '../../src/lxc/rootfs.js';

describe('lxc: mount targets made and resolved inside the rootfs', () => {
  let dir: string;
  let root: string;
  let vol: string;
  const outside = () => join(dir, 'outside');
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'execdriver-mkpath-'));
    root = join(dir, 'rootfs');
    vol = join(dir, 'vol');
    for (const d of [root, vol, join(root, 'tmp'), join(root, 'etc')]) mkdirSync(d);
    writeFileSync(join(root, 'etc/hosts'), '');
    symlinkSync('/tmp', join(root, 'to-tmp'));
    symlinkSync('../../../..', join(root, 'up'));
    symlinkSync(outside(), join(root, 'dangling'));
    symlinkSync(join(outside(), 'f'), join(root, 'tmp/dangling-file'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const m = (destination: string, kind: 'dir' | 'file' = 'dir', source = '/nonexistent') => ({ source, destination, kind });

  it('a root in another mount namespace (/proc/PID/root/…, the overlay of an lxc container): made in its mount', async () => {
    const over = join(dir, 'ns-root');
    mkdirSync(over);
    // a process in a mount namespace of its own with a tmpfs over `over` (nothing on the host)
    const p = spawn('unshare', ['-m', '--propagation', 'slave', 'sh', '-c', `mount -t tmpfs none ${over} && echo ok && exec sleep 30`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        p.stdout!.once('data', () => resolve());
        p.once('exit', (c) => reject(new Error(`unshare ended (${c})`)));
      });
      assert.deepEqual(makeMountTargets(`/proc/${p.pid}/root${over}`, [m('/etc/hosts', 'file'), m('/data/a')]), ['/etc/hosts', '/data/a']);
      assert.ok(statSync(`/proc/${p.pid}/root${over}/etc/hosts`).isFile());
      assert.equal(existsSync(join(over, 'etc')), false, 'nothing in the host directory under the mount');
    } finally {
      p.kill('SIGKILL');
      await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('exit', r)));
    }
  });

  it('creates what is missing and says where it is', () => {
    assert.deepEqual(makeMountTargets(root, [m('/data/a'), m('/etc/hosts', 'file'), m('/etc/new.conf', 'file'), m('/')]), [
      '/data/a',
      '/etc/hosts',
      '/etc/new.conf',
      '/',
    ]);
    assert.ok(statSync(join(root, 'data/a')).isDirectory());
    assert.ok(statSync(join(root, 'etc/new.conf')).isFile());
  });

  it('follows links as the container would: an absolute one from the rootfs, .. stops at its root', () => {
    assert.deepEqual(makeMountTargets(root, [m('/to-tmp/x', 'file'), m('/up/etc/hosts', 'file'), m('/up/y')]), ['/tmp/x', '/etc/hosts', '/y']);
    assert.ok(existsSync(join(root, 'tmp/x')) && existsSync(join(root, 'y')));
    assert.equal(existsSync('/y'), false);
  });

  it('a dangling link is not followed: an error naming the destination, nothing outside', () => {
    for (const [dest, kind] of [['/dangling/evil', 'file'], ['/dangling', 'dir'], ['/tmp/dangling-file', 'file']] as const) {
      assert.throws(
        () => makeMountTargets(root, [m('/ok'), m(dest, kind)]),
        (e: unknown) => e instanceof MountTargetError && e.destination === dest && /No such file or directory/.test(e.message) && !e.message.includes('\n'),
      );
    }
    assert.equal(existsSync(outside()), false);
  });

  it('a file where a directory is wanted (and the reverse) is an error', () => {
    assert.throws(() => makeMountTargets(root, [m('/etc/hosts')]), /Not a directory/);
    assert.throws(() => makeMountTargets(root, [m('/etc', 'file')]), /Is a directory/);
  });

  it('a mount under an earlier directory mount: its target is made in that mount\'s source', () => {
    assert.deepEqual(makeMountTargets(root, [m('/to-tmp/v', 'dir', vol), m('/to-tmp/v/sub/f', 'file'), m('/other')]), ['/tmp/v', '/tmp/v/sub/f', '/other']);
    assert.ok(statSync(join(vol, 'sub/f')).isFile());
    assert.equal(existsSync(join(root, 'tmp/v/sub')), false);
  });
});
