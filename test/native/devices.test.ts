/**
 * Device rules on cgroup v2: the BPF device program the native driver attaches to the container's
 * cgroup2 directory (always on a v2 host; on this hybrid host with `config.native.cgroup2_devices`).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deviceFilterHex } from '../../src/cgroups/devicefilter.js';
import { hostLayout } from '../../src/cgroups/index.js';
import { createDriver, type Command, type ManagedDriver } from '../../src/index.js';
import { INIT_BINARY, MonitorChannel } from '../../src/init/monitor.js';
import { capture, makeRootfs, TEST_ROOT, uniqueId } from '../helpers.js';

const layout = hostLayout();
const v2 = layout.v2?.mountpoint;
const v1Devices = [...layout.v1.values()].find((h) => h.controllers.includes('devices'))?.mountpoint;

/** "ATTACHED EFFECTIVE" device programs of a cgroup2 directory (BPF_PROG_QUERY, by our C init). */
const query = (dir: string) => execFileSync(INIT_BINARY, ['device-filters', dir], { encoding: 'utf8' }).trim();

describe('native driver: device rules by a cgroup2 BPF program', { skip: v2 ? false : 'no cgroup2 mount on this host' }, () => {
  let driver: ManagedDriver;
  let rootfs: { dir: string; cleanup: () => void };
  let vol: string;
  before(() => {
    driver = createDriver('native', { root: TEST_ROOT });
    rootfs = makeRootfs();
    vol = mkdtempSync(join(tmpdir(), 'execdriver-devices-'));
  });
  after(() => {
    rootfs.cleanup();
    rmSync(vol, { recursive: true, force: true });
  });
  const sh = (script: string, over: Partial<Command> = {}): Command & { id: string } => ({
    id: uniqueId('dev'),
    rootfs: rootfs.dir,
    entrypoint: 'sh',
    arguments: ['-c', script],
    network: { mode: 'none' },
    config: { native: { cgroup2_devices: true } },
    ...over,
  });
  const cgroupDirs = (id: string): string[] =>
    (JSON.parse(readFileSync(join(TEST_ROOT, 'native', id, 'state.json'), 'utf8')) as { cgroupPaths: string[] }).cgroupPaths;
  const v2Dir = (id: string) => cgroupDirs(id).find((p) => p.startsWith(v2 + '/'))!;

  it('mknod of a block device works, opening it is EPERM; /dev/null, /dev/zero, /dev/full work', async () => {
    const cap = capture();
    const s = await driver.run(
      sh('mknod /dev/sda b 8 0 && echo made; head -c1 /dev/sda; echo x > /dev/null && head -c4 /dev/zero | wc -c && echo x > /dev/full; true'),
      cap.pipes,
    );
    assert.equal(s.exitCode, 0);
    assert.match(cap.out(), /^made\n4\n$/);
    assert.match(cap.err(), /head: \/dev\/sda: Operation not permitted/);
    assert.match(cap.err(), /No space left on device/, '/dev/full opens (and is full)');
  });

  it('the program decides, not the v1 devices cgroup: with v1 opened to everything, still EPERM', { skip: v1Devices ? false : 'no v1 devices hierarchy' }, async () => {
    const results: Record<string, string> = {};
    for (const filter of [true, false]) {
      const go = join(vol, `go-${filter}`);
      const cmd = sh(`while [ ! -e /vol/go-${filter} ]; do usleep 20000; done; mknod /dev/sda b 8 0; head -c1 /dev/sda`, {
        mounts: [{ source: vol, destination: '/vol', writable: true }],
        config: { native: { cgroup2_devices: filter } },
      });
      const cap = capture();
      let attached = '';
      await driver.run(cmd, cap.pipes, () => {
        const dirs = cgroupDirs(cmd.id);
        // the v1 devices cgroup now allows every device: only a program can still deny
        writeFileSync(join(dirs.find((p) => p.startsWith(v1Devices + '/'))!, 'devices.allow'), 'a');
        attached = query(v2Dir(cmd.id));
        writeFileSync(go, '');
      });
      results[String(filter)] = cap.err();
      assert.equal(attached, filter ? '1 1' : '0 0', `device programs attached, in force (filter ${filter})`);
    }
    assert.match(results['true']!, /\/dev\/sda: Operation not permitted/);
    // without the program the open reaches the kernel's block layer: no such device here, not EPERM
    assert.doesNotMatch(results['false']!, /Operation not permitted/);
    assert.match(results['false']!, /\/dev\/sda: No such device/);
  });

  it('a terminal works: /dev/tty, /dev/pts/0, /dev/ptmx', async () => {
    const cap = capture();
    const s = await driver.run(sh('echo one > /dev/tty && echo two > /dev/pts/0 && ls /dev/pts/ptmx >/dev/null && echo three', { tty: true }), cap.pipes);
    assert.equal(s.exitCode, 0);
    assert.match(cap.out(), /one\r?\ntwo\r?\nthree/);
  });

  it('privileged: no program (every device), even when asked', async () => {
    const cmd = sh('usleep 300000', { privileged: true });
    let attached = '';
    await driver.run(cmd, {}, () => (attached = query(v2Dir(cmd.id))));
    assert.equal(attached, '0 0');
  });

  it('a bad value of cgroup2_devices is refused before anything is created', async () => {
    const cmd = sh('true', { config: { native: { cgroup2_devices: 'yes' } } });
    await assert.rejects(driver.run(cmd), (e: Error & { code: string }) => e.code === 'ERR_INVALID_CONFIG' && /cgroup2_devices must be true or false/.test(e.message));
    assert.equal(existsSync(join(TEST_ROOT, 'native', cmd.id)), false);
  });

  describe('the C init loads what TypeScript renders (host-mode plans on a cgroup2 directory of the test)', () => {
    const dir = join(v2 ?? '/nonexistent', `execdriver-devtest-${process.pid}`);
    before(() => mkdirSync(dir));
    after(() => rmdirSync(dir));
    const load = async (program: string): Promise<string[][]> => {
      const m = MonitorChannel.spawn(['ignore', 'ignore', 'ignore'], 'devtest');
      m.sendPlan([['device-filter', dir, program], ['exec', '', '/bin/true']]);
      const frames: string[][] = [];
      for (let f = await m.next(); f; f = await m.next()) {
        frames.push(f);
        if (f[0] === 'pid') m.send('go');
        if (f[0] === 'exit' || f[0] === 'error') break;
      }
      await m.closed();
      return frames;
    };
    it('the default and the allow-all programs load and attach (several: BPF_F_ALLOW_MULTI)', async () => {
      assert.equal(query(dir), '0 0');
      for (const mode of ['default', 'allow-all'] as const) {
        const frames = await load(deviceFilterHex(mode));
        assert.deepEqual(frames[0]?.[0], 'pid', JSON.stringify(frames));
      }
      assert.equal(query(dir), '2 2');
    });
    it('a program the verifier refuses: an error frame with its log, no pid', async () => {
      // exit without setting r0
      const frames = await load('9500000000000000');
      assert.equal(frames.length, 1, JSON.stringify(frames));
      const [kind, step, errno, path, message] = frames[0]!;
      assert.equal(kind, 'error');
      assert.equal(step, 'device-filter#0');
      assert.equal(Number(errno), 13); // EACCES: the verifier said no
      assert.equal(path, dir);
      assert.match(message!, /load the BPF_PROG_TYPE_CGROUP_DEVICE program \(1 instructions\): verifier: .*R0 !read_ok/);
      assert.doesNotMatch(message!, /\n/);
    });
  });
});
