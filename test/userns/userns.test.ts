/**
 * User namespaces (`userns: 'remap'`, `--userns=remap`), on both drivers: container root is an
 * unprivileged host uid from the subordinate ranges of user `execdriver` (scripts/setup.sh makes
 * them), the rootfs is an idmapped mount, volumes are plain binds unless `idmap`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createDriver, type Command, type ManagedDriver } from '../../src/index.js';
import { removeBridgeIfUnused } from '../../src/network/index.js';
import { remapMappings } from '../../src/userns.js';
import { capture, CLI, makeRootfs, TEST_ROOT, uniqueId, until } from '../helpers.js';
import { TestNetns } from './slirp.js';

const BRIDGE = `edt-userns${process.pid % 1000}`;

for (const driverName of ['native', 'lxc'] as const) {
  describe(`user namespaces: ${driverName} driver`, () => {
    let driver: ManagedDriver;
    let rootfs: { dir: string; cleanup: () => void };
    let vol: string;
    const mapped = remapMappings('execdriver').uidMappings[0]!.hostID;
    const sh = (script: string, over: Partial<Command> = {}): Command & { id: string } => ({
      id: uniqueId('userns'),
      rootfs: rootfs.dir,
      entrypoint: 'sh',
      arguments: ['-c', script],
      network: { mode: 'none' },
      userns: 'remap',
      ...over,
    });
    const runOut = async (c: Command, onStart?: (i: { pid: number }) => void) => {
      const cap = capture();
      const status = await driver.run(c, cap.pipes, onStart);
      return { status, out: cap.out(), err: cap.err() };
    };

    before(() => {
      driver = createDriver(driverName, { root: TEST_ROOT });
      rootfs = makeRootfs();
      vol = mkdtempSync(join(tmpdir(), 'execdriver-userns-vol-'));
      chmodSync(vol, 0o777);
      writeFileSync(join(vol, 'host-root-file'), 'x');
    });
    after(async () => {
      rootfs.cleanup();
      rmSync(vol, { recursive: true, force: true });
      if (driverName === 'lxc') await removeBridgeIfUnused(BRIDGE, { stateRoot: TEST_ROOT });
    });

    it('container root is uid 0 inside and the mapped uid on the host; the rootfs shows root-owned', async () => {
      let hostUid = '';
      const r = await runOut(sh('id -u; id -g; stat -c "%u:%g" /bin/busybox /etc/passwd /tmp; cat /proc/self/uid_map; sleep 0.3'), ({ pid }) => {
        hostUid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
      });
      assert.equal(r.status.exitCode, 0, r.err);
      assert.equal(hostUid, String(mapped));
      const lines = r.out.trim().split('\n');
      assert.deepEqual(lines.slice(0, 5), ['0', '0', '0:0', '0:0', '0:0']);
      assert.match(lines[5]!, new RegExp(`^\\s*0\\s+${mapped}\\s+65536$`));
    });

    it('a file written to the rootfs by container root is owned by root on disk (the idmapped mount)', async () => {
      const r = await runOut(sh('echo hi > /root/made-inside && chown 1000:1000 /root/made-inside && stat -c %u /root/made-inside', { rootfsMode: 'direct' }));
      assert.equal(r.status.exitCode, 0, r.err);
      assert.equal(r.out.trim(), '1000');
      const st = statSync(join(rootfs.dir, 'root/made-inside'));
      assert.deepEqual([st.uid, st.gid], [1000, 1000]);
      rmSync(join(rootfs.dir, 'root/made-inside'));
    });

    it('a plain volume: host files of unmapped owners show as nobody, a new file is owned by the mapped host uid', async () => {
      const r = await runOut(sh('stat -c %u /data/host-root-file; echo x > /data/new-plain && echo made', { mounts: [{ source: vol, destination: '/data' }] }));
      assert.equal(r.status.exitCode, 0, r.err);
      assert.equal(r.out, '65534\nmade\n');
      assert.equal(statSync(join(vol, 'new-plain')).uid, mapped);
      assert.equal(statSync(join(vol, 'new-plain')).gid, mapped);
    });

    it('an idmapped volume: host root-owned files show as root, a new file is owned by what the map says', async () => {
      const r = await runOut(
        sh('stat -c %u /data/host-root-file; echo x > /data/new-idmap; echo y > /data/new-user && chown 1000:1000 /data/new-user && echo made', {
          mounts: [{ source: vol, destination: '/data', idmap: true }],
        }),
      );
      assert.equal(r.status.exitCode, 0, r.err);
      assert.equal(r.out, '0\nmade\n');
      assert.equal(statSync(join(vol, 'new-idmap')).uid, 0);
      assert.equal(statSync(join(vol, 'new-user')).uid, 1000);
    });

    it('writing /proc/sysrq-trigger fails even with --privileged; a privileged container runs', async () => {
      for (const privileged of [false, true]) {
        const r = await runOut(sh('echo h > /proc/sysrq-trigger && echo WROTE; id -u', { privileged }));
        assert.equal(r.status.exitCode, 0, r.err);
        assert.equal(r.out, '0\n', `privileged=${privileged}`);
      }
    });

    it('a non-root user of the container runs as its mapped host uid', async () => {
      let hostUid = '';
      const r = await runOut(sh('id -u; sleep 0.3', { user: 'user' }), ({ pid }) => {
        hostUid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
      });
      assert.equal(r.status.exitCode, 0, r.err);
      assert.equal(r.out, '1000\n');
      assert.equal(hostUid, String(mapped + 1000));
    });

    it('proc, sysfs, mqueue and devpts are mounted; with --net host the host\'s /sys', async () => {
      for (const mode of ['none', 'host'] as const) {
        const r = await runOut(sh('for m in /proc /sys /dev/mqueue /dev/pts; do grep -q " $m " /proc/mounts && echo "$m"; done; ls /sys/class | grep -c net; ls /dev/pts/ptmx', { network: { mode } }));
        assert.equal(r.status.exitCode, 0, r.err);
        assert.equal(r.out, '/proc\n/sys\n/dev/mqueue\n/dev/pts\n1\n/dev/pts/ptmx\n', mode);
      }
    });

    it('cgroup limits still apply (memory: the OOM kill is seen); detached, kill and wait work', async () => {
      const s = await driver.run(sh('x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo never', { resources: { memory: 32 << 20, memorySwap: 32 << 20 } }));
      assert.equal(s.oomKilled, true);
      const c = sh('sleep 300');
      await driver.start(c, { detach: true });
      assert.equal(driver.info(c.id).isRunning(), true);
      await driver.kill(c.id, 'SIGKILL');
      assert.equal((await driver.wait(c.id, 10_000)).exitCode, 137);
      await driver.delete(c.id);
    });

    it('a tty container works', async () => {
      const stdin = new PassThrough();
      const cap = capture();
      const started = await driver.start(sh('test -t 0 && test -t 1 && echo "tty $(id -u)"; read x; echo "got $x"', { tty: true }), {
        pipes: { stdin, stdout: cap.pipes.stdout },
      });
      await until(() => /tty 0/.test(cap.out()), 10_000, 'the tty output');
      stdin.write('go\n');
      assert.equal((await started.exited).exitCode, 0);
      assert.match(cap.out(), /tty 0\r\n.*got go\r\n/s);
    });

    it('--net bridge works', async () => {
      const r = await runOut(sh('ip -4 addr show eth0 | grep -q "inet 10\\." && echo addressed; ip route | grep -q default && echo routed', {
        network: { mode: 'bridge', bridge: BRIDGE, subnet: '10.213.17.0/24' },
      }));
      assert.equal(r.status.exitCode, 0, r.err);
      assert.equal(r.out, 'addressed\nrouted\n');
    });

    it('--net slirp4netns (native driver): reaches a server in a namespace the test made, as root and remapped', async (t) => {
      if (driverName !== 'native') {
        await assert.rejects(driver.run(sh('true', { network: { mode: 'slirp4netns' } })), /slirp4netns is for the native driver only/);
        return;
      }
      const netns = new TestNetns();
      netns.create();
      try {
        for (const userns of ['host', 'remap'] as const) {
          const server = netns.serve(7789);
          await server.ready;
          const script = `ip -4 addr show tap0 | grep -o "inet [0-9./]*"; echo "hello-${userns}" | nc ${netns.address} 7789 && echo sent`;
          // the driver runs in this process: the container's slirp4netns must start in the test's namespace
          const r = spawnSync('nsenter', [`--net=${netns.path}`, process.execPath, CLI, '--root', TEST_ROOT, 'run', '--rootfs', rootfs.dir,
            '--net', 'slirp4netns', '--userns', userns, '--', 'sh', '-c', script], { encoding: 'utf8', timeout: 30_000 });
          assert.equal(r.status, 0, r.stderr);
          assert.equal(r.stdout, 'inet 10.0.2.100/24\nsent\n', userns);
          assert.equal(await server.received, `hello-${userns}\n`);
        }
      } finally {
        netns.remove();
      }
      t.diagnostic('slirp4netns: tap0 10.0.2.100/24, outgoing through the helper in the namespace the test made');
    });

    it('bad input is refused before anything is created', async () => {
      await assert.rejects(
        driver.run(sh('true', { userns: { mode: 'remap', user: 'no-such-remap-user' } })),
        (e: Error & { code: string }) => e.code === 'ERR_INVALID_CONFIG' && /no-such-remap-user.*usermod --add-subuids/.test(e.message),
      );
      await assert.rejects(
        driver.run(sh('true', { userns: 'host', mounts: [{ source: vol, destination: '/data', idmap: true }] })),
        /idmapped volume needs a user namespace/,
      );
      await assert.rejects(
        driver.run(sh('true', { uidMappings: [{ containerID: 0, hostID: mapped, size: 10 }], gidMappings: [{ containerID: 0, hostID: mapped, size: 10 }], user: 'user' })),
        /not mapped/,
      );
    });
  });
}

