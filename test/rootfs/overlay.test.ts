/**
 * The copy-on-write rootfs (issue 12 item 3), on both drivers: the rootfs directory is the
 * read-only lower layer of a per-container overlay, whatever the container does to it; layers
 * stack (the first given the lowest); --read-only holds; user namespaces; nothing left behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDriver, type Command, type ManagedDriver } from '../../src/index.js';
import { isMountPoint, mountOverlayOnHost, overlayDirs, prepareOverlay } from '../../src/rootfs/overlay.js';
import { StateDir } from '../../src/state/index.js';
import { capture, CLI, makeRootfs, TEST_ROOT, uniqueId } from '../helpers.js';

/** Every entry of a tree: type, mode, owner, size, mtime, content hash or link target. */
export function treeDigest(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      h.update(`${rel}/${name} ${st.mode} ${st.uid}:${st.gid} ${st.size} ${st.mtimeMs}\n`);
      if (st.isSymbolicLink()) h.update(readlinkSync(p));
      else if (st.isFile()) h.update(readFileSync(p));
      else if (st.isDirectory()) walk(p, `${rel}/${name}`);
    }
  };
  const st = lstatSync(dir);
  h.update(`/ ${st.mode} ${st.uid}:${st.gid} ${st.mtimeMs}\n`);
  walk(dir, '');
  return h.digest('hex');
}

/** Our mounts (host mount namespace) whose line names `word`. */
const mountsNaming = (word: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(word));

for (const driverName of ['native', 'lxc'] as const) {
  describe(`copy-on-write rootfs: ${driverName} driver`, () => {
    let driver: ManagedDriver;
    let rootfs: { dir: string; cleanup: () => void };
    let layer: string;
    const sh = (script: string, over: Partial<Command> = {}): Command & { id: string } => ({
      id: uniqueId('rootfs'),
      rootfs: rootfs.dir,
      entrypoint: 'sh',
      arguments: ['-c', script],
      network: { mode: 'none' },
      ...over,
    });
    const runOut = async (c: Command) => {
      const cap = capture();
      const status = await driver.run(c, cap.pipes);
      return { status, out: cap.out(), err: cap.err() };
    };

    before(() => {
      driver = createDriver(driverName, { root: TEST_ROOT });
      rootfs = makeRootfs();
      layer = mkdtempSync(join(tmpdir(), 'execdriver-layer-'));
      chmodSync(layer, 0o755);
      mkdirSync(join(layer, 'etc'));
      writeFileSync(join(layer, 'etc/layer-2'), 'from layer 2\n');
      writeFileSync(join(layer, 'notexec'), 'shadowed by layer 2\n');
    });
    after(() => {
      rootfs.cleanup();
      rmSync(layer, { recursive: true, force: true });
    });

    it('whatever the container writes, deletes, chmods or chowns, the rootfs is unchanged byte for byte', async () => {
      const before = treeDigest(rootfs.dir);
      const c = sh(
        'echo mine > /x && rm /bin/ls /etc/group && chmod 777 /etc/passwd && chown 1000:1000 /bin/busybox && ' +
          'echo changed >> /etc/passwd && mkdir -p /new/dir && rm -rf /home && ln -sf /x /bin/cat2 && touch -d 2000-01-01 /notexec && ' +
          'cat /x && test ! -e /bin/ls && stat -c %a /etc/passwd && cat /data/vol/notexec',
        { mounts: [{ source: layer, destination: '/data/vol', writable: false }] }, // its target is made in the upper layer
      );
      const layerBefore = treeDigest(layer);
      const r = await runOut(c);
      assert.equal(treeDigest(layer), layerBefore);
      assert.equal(r.status.exitCode, 0, r.err);
      assert.equal(r.out, 'mine\n777\nshadowed by layer 2\n');
      assert.equal(treeDigest(rootfs.dir), before, 'the rootfs directory changed');
      assert.equal(existsSync(join(TEST_ROOT, driverName, c.id)), false, 'the upper layer went with the container');
      assert.deepEqual(mountsNaming(c.id), [], 'no mount left on the host');
    });

    it('two containers from the same rootfs each write /x: neither sees the other\'s', async () => {
      const before = treeDigest(rootfs.dir);
      const a = sh('echo a > /x; exec sleep 1000');
      await driver.start(a, { detach: true });
      try {
        // a's file is written before b starts (exec sees it), b sees none and writes its own
        for (let i = 0; i < 100; i++) {
          const cap = capture();
          const h = await driver.exec(a.id, { args: ['cat', '/x'] }, { pipes: cap.pipes });
          if ((await h.exited).exitCode === 0 && cap.out() === 'a\n') break;
          await new Promise((res) => setTimeout(res, 50));
        }
        const b = await runOut(sh('test -e /x && echo seen; echo b > /x; cat /x'));
        assert.equal(b.status.exitCode, 0, b.err);
        assert.equal(b.out, 'b\n');
        const cap = capture();
        const h = await driver.exec(a.id, { args: ['cat', '/x'] }, { pipes: cap.pipes });
        assert.equal((await h.exited).exitCode, 0);
        assert.equal(cap.out(), 'a\n');
      } finally {
        await driver.terminate(a.id).catch(() => {});
      }
      assert.equal(existsSync(join(rootfs.dir, 'x')), false);
      assert.equal(treeDigest(rootfs.dir), before);
      assert.deepEqual(mountsNaming(a.id), [], 'no mount left on the host');
    });

    it('a detached container keeps its writes until it is deleted', async () => {
      const c = sh('echo kept > /kept');
      await driver.start(c, { detach: true });
      await driver.wait(c.id, 20_000);
      const upper = overlayDirs(join(TEST_ROOT, driverName, c.id)).upper;
      assert.equal(readFileSync(join(upper, 'kept'), 'utf8'), 'kept\n', 'the upper layer holds the write');
      assert.deepEqual(mountsNaming(c.id), [], 'no mount on the host while it is stopped');
      await driver.delete(c.id);
      assert.equal(existsSync(join(TEST_ROOT, driverName, c.id)), false);
    });

    it('while it runs nothing is mounted on the host; a command missing from the overlay is 127, nothing left', async () => {
      const c = sh('echo up > /up; exec sleep 30');
      const upper = overlayDirs(join(TEST_ROOT, driverName, c.id)).upper;
      await driver.start(c, { detach: true });
      try {
        for (let i = 0; i < 200 && !existsSync(join(upper, 'up')); i++) await new Promise((r) => setTimeout(r, 25));
        assert.equal(readFileSync(join(upper, 'up'), 'utf8'), 'up\n');
        assert.deepEqual(mountsNaming(c.id), [], 'no mount on the host while it runs');
      } finally {
        await driver.terminate(c.id).catch(() => {});
        await driver.delete(c.id).catch(() => {});
      }
      const missing = sh('', { entrypoint: '/no/such/command', arguments: [] });
      await assert.rejects(driver.run(missing), (e: Error & { exitCode?: number }) => {
        assert.equal(e.exitCode, 127, e.message);
        return true;
      });
      assert.equal(existsSync(join(TEST_ROOT, driverName, missing.id)), false);
      // lxc: the monitor's child that waited on the exec fifo is gone with it
      const holders = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
        try {
          return readdirSync(`/proc/${p}/fd`).some((fd) => readlinkSync(`/proc/${p}/fd/${fd}`).includes(missing.id));
        } catch {
          return false;
        }
      });
      assert.deepEqual(holders, []);
      assert.deepEqual(mountsNaming(missing.id), []);
    });

    it('layers stack: the first given is the lowest, a later one shadows it', async () => {
      const before = [treeDigest(rootfs.dir), treeDigest(layer)];
      const r = await runOut(sh('cat /etc/layer-2 /notexec; echo x > /etc/layer-2; cat /etc/layer-2; test -x /bin/busybox', { rootfs: [rootfs.dir, layer] }));
      assert.equal(r.status.exitCode, 0, r.err);
      assert.equal(r.out, 'from layer 2\nshadowed by layer 2\nx\n');
      assert.deepEqual([treeDigest(rootfs.dir), treeDigest(layer)], before);
    });

    it('--read-only: / is read-only on the overlay too', async () => {
      const r = await runOut(sh('echo x > /x', { readonlyRootfs: true }));
      assert.notEqual(r.status.exitCode, 0);
      assert.match(r.err, /Read-only file system/);
      assert.equal(existsSync(join(rootfs.dir, 'x')), false);
    });

    it('--rootfs-mode direct: the container writes into the directory itself (today\'s behaviour)', async () => {
      const name = `direct-${process.pid}-${driverName}`;
      try {
        const r = await runOut(sh(`echo d > /tmp/${name}`, { rootfsMode: 'direct' }));
        assert.equal(r.status.exitCode, 0, r.err);
        assert.equal(readFileSync(join(rootfs.dir, 'tmp', name), 'utf8'), 'd\n');
      } finally {
        rmSync(join(rootfs.dir, 'tmp', name), { force: true });
      }
    });

    it('a user namespace (--userns=remap): native: overlay over idmapped layers; lxc: direct unless asked', async () => {
      const before = treeDigest(rootfs.dir);
      if (driverName === 'native') {
        const c = sh('echo u > /x && chown 1000 /x && stat -c %u:%g /x /bin/busybox && cat /notexec', { userns: 'remap', rootfs: [rootfs.dir, layer] });
        const r = await runOut(c);
        assert.equal(r.status.exitCode, 0, r.err);
        assert.equal(r.out, '1000:0\n0:0\nshadowed by layer 2\n');
        assert.equal(treeDigest(rootfs.dir), before);
        assert.equal(existsSync(join(TEST_ROOT, driverName, c.id)), false);
      } else {
        await assert.rejects(driver.run(sh('true', { userns: 'remap', rootfsMode: 'overlay' })), (e: Error & { code: string }) => {
          assert.equal(e.code, 'ERR_INVALID_CONFIG');
          assert.match(e.message, /no overlay rootfs with a user namespace: use --rootfs-mode direct/);
          return true;
        });
        const r = await runOut(sh('id -u', { userns: 'remap' }));
        assert.equal(r.status.exitCode, 0, r.err);
        assert.equal(r.out, '0\n');
      }
    });

    it('bad input: one line, nothing created', async () => {
      for (const [over, re] of [
        [{ rootfsMode: 'weird' }, /rootfsMode "weird" must be overlay or direct/],
        [{ rootfs: [rootfs.dir, layer], rootfsMode: 'direct' }, /2 layers need the overlay mode/],
        [{ rootfs: [rootfs.dir, '/nonexistent-layer'] }, /rootfs \/nonexistent-layer does not exist/],
        [{ rootfs: [rootfs.dir, rootfs.dir] }, /a layer is given twice/],
        [{ rootfs: [] }, /no layer given/],
      ] as const) {
        const c = sh('true', over as unknown as Partial<Command>);
        await assert.rejects(driver.run(c), (e: Error & { code: string }) => {
          assert.equal(e.code, 'ERR_INVALID_CONFIG');
          assert.match(e.message, re);
          assert.doesNotMatch(e.message, /\n/);
          return true;
        });
        assert.equal(existsSync(join(TEST_ROOT, driverName, c.id)), false);
      }
    });

    it('the command line: --rootfs twice stacks, --rootfs-mode is checked (125, one line)', () => {
      const env = { ...process.env, EXECDRIVER_ROOT: TEST_ROOT };
      const ok = spawnSync(CLI, ['run', '--driver', driverName, '--net', 'none', '--rootfs', rootfs.dir, '--rootfs', layer, 'cat', '/etc/layer-2'], { encoding: 'utf8', env });
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(ok.stdout, 'from layer 2\n');
      const bad = spawnSync(CLI, ['run', '--driver', driverName, '--rootfs-mode', 'cow', '--rootfs', rootfs.dir, 'true'], { encoding: 'utf8', env });
      assert.equal(bad.status, 125);
      assert.equal(bad.stderr.trim().split('\n').length, 1);
      assert.match(bad.stderr, /--rootfs-mode "cow": overlay or direct/);
    });
  });
}

describe('copy-on-write rootfs: a host overlay mount a crash left (lxc) goes with the state directory', () => {
  it('StateDir.remove() unmounts it and removes the layer', () => {
    const rootfs = makeRootfs();
    const id = uniqueId('rootfscrash');
    const state = new StateDir(TEST_ROOT, 'lxc', id);
    try {
      mkdirSync(state.dir, { recursive: true, mode: 0o700 });
      const merged = mountOverlayOnHost(id, [rootfs.dir], prepareOverlay(state.dir));
      writeFileSync(join(merged, 'written'), 'x');
      assert.ok(isMountPoint(merged));
      state.remove();
      assert.equal(isMountPoint(merged), false);
      assert.equal(existsSync(state.dir), false);
      assert.equal(existsSync(join(rootfs.dir, 'written')), false);
    } finally {
      spawnSync('umount', ['-l', overlayDirs(state.dir).merged], { stdio: 'ignore' });
      rmSync(state.dir, { recursive: true, force: true });
      rootfs.cleanup();
    }
  });
});

describe('copy-on-write rootfs: rootless (native)', () => {
  const USER = 'execdriver-rl'; // test/userns/rootless.test.ts makes it (with its subordinate ranges)
  const known = spawnSync('id', ['-u', USER]).status === 0 && readFileSync('/etc/subuid', 'utf8').includes(`${USER}:`);
  it('a caller who is not root writes to its own upper layer (what its mapped ids may write); the rootfs is unchanged', { skip: !known && `no user ${USER} with subordinate ids` }, () => {
    const rootfs = makeRootfs();
    const xdg = mkdtempSync(join(tmpdir(), 'execdriver-rootfs-xdg-'));
    try {
      spawnSync('chown', [USER, xdg]);
      spawnSync('chown', ['-R', `${USER}:${USER}`, rootfs.dir]); // a rootless caller's rootfs is its own (its root in the container)
      chmodSync(xdg, 0o700);
      const before = treeDigest(rootfs.dir);
      const r = spawnSync('runuser', ['-u', USER, '--', 'env', '-i', 'PATH=/usr/bin:/bin', `XDG_RUNTIME_DIR=${xdg}`, process.execPath, CLI, 'run', '--rootfs', rootfs.dir, 'sh', '-c', 'echo r > /x && rm /bin/ls && echo t > /tmp/t && cat /x /tmp/t'], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'r\nt\n');
      assert.equal(treeDigest(rootfs.dir), before);
      assert.deepEqual(readdirSync(join(xdg, 'execdriver', 'native')), [], 'the state directory (and its upper layer) removed');
    } finally {
      rmSync(xdg, { recursive: true, force: true });
      rootfs.cleanup();
    }
  });
});
