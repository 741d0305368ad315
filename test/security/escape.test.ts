/**
 * Escapes tried from inside a default container, on both drivers, as an attacker would: the
 * capability sets, the 2014 Shocker exploit (open_by_handle_at with a forged handle of the host
 * filesystem's root), writing the runtime's binary through /proc (CVE-2019-5736), descriptors of
 * ours leaking in (CVE-2024-21626), the caller's own output file reachable through /proc/self/fd,
 * and a mount destination swapped to a symlink while containers start (CVE-2021-30465).
 * Each attack is also run once where it must succeed (a capability given back on purpose), so a
 * test that cannot fail is caught.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../src/lxc/index.js';
import { createDriver, type Command, type ManagedDriver } from '../../src/index.js';
import { capture, CLI, makeRootfs, TEST_ROOT, uniqueId } from '../helpers.js';

const SOURCE = new URL('../../../test/security/escape.c', import.meta.url).pathname;
/** What a default container's bounding set is under Docker: the 14 capabilities of its allow-list. */
const DOCKER_CAPS = '00000000a80425fb';

function buildEscape(rootfsDir: string): void {
  execFileSync('gcc', ['-static', '-O2', '-o', join(rootfsDir, 'bin/escape'), SOURCE]);
}

for (const driverName of ['native', 'lxc'] as const) {
  describe(`escapes from a default container: ${driverName} driver`, () => {
    let driver: ManagedDriver;
    let rootfs: { dir: string; cleanup: () => void };
    const cmd = (args: string[], over: Partial<Command> = {}): Command & { id: string } => ({
      id: uniqueId(`esc${driverName.slice(0, 1)}`),
      rootfs: rootfs.dir,
      entrypoint: args[0]!,
      arguments: args.slice(1),
      network: { mode: 'none' },
      ...over,
    });
    const out = async (c: Command): Promise<string> => {
      const cap = capture();
      const status = await driver.run(c, cap.pipes);
      assert.ok(status.exitCode === 0 || status.exitCode === 1, `exit ${status.exitCode}: ${cap.err()}`);
      return cap.out();
    };

    before(() => {
      driver = createDriver(driverName, { root: TEST_ROOT });
      rootfs = makeRootfs();
      buildEscape(rootfs.dir);
    });
    after(() => rootfs.cleanup());

    it("the capability sets are Docker's (14 for root, none of its own for a user, inheritable and ambient empty), with a seccomp filter", async () => {
      const status = (o: string) => Object.fromEntries(o.trim().split('\n').map((l) => l.split(/:\s+/) as [string, string]));
      assert.match(await out(cmd(['grep', '^Seccomp:', '/proc/self/status'])), /^Seccomp:\s+2\n$/);
      const root = status(await out(cmd(['sh', '-c', 'grep ^Cap /proc/self/status'])));
      assert.deepEqual(root, { CapInh: '0'.repeat(16), CapPrm: DOCKER_CAPS, CapEff: DOCKER_CAPS, CapBnd: DOCKER_CAPS, CapAmb: '0'.repeat(16) });
      const user = status(await out(cmd(['sh', '-c', 'grep ^Cap /proc/self/status'], { user: 'nobody' })));
      assert.deepEqual(user, { CapInh: '0'.repeat(16), CapPrm: '0'.repeat(16), CapEff: '0'.repeat(16), CapBnd: DOCKER_CAPS, CapAmb: '0'.repeat(16) });
      // an ambient capability asked for: permitted, effective, inheritable and ambient, nothing more
      const amb = status(await out(cmd(['sh', '-c', 'grep ^Cap /proc/self/status'], { user: 'nobody', capAmbient: ['NET_BIND_SERVICE'] })));
      const nbs = '0000000000000400';
      assert.deepEqual(amb, { CapInh: nbs, CapPrm: nbs, CapEff: nbs, CapBnd: DOCKER_CAPS, CapAmb: nbs });
    });

    it('Shocker cannot open the host filesystem by a forged handle, from / or from a volume', async () => {
      const vol = mkdtempSync(join(tmpdir(), 'execdriver-vol-'));
      try {
        assert.match(await out(cmd(['escape', 'shocker', 'etc/hostname'])), /^blocked open_by_handle_at EPERM\n$/);
        assert.match(
          await out(cmd(['escape', 'shocker', 'etc/hostname', '/data'], { mounts: [{ source: vol, destination: '/data' }] })),
          /^blocked open_by_handle_at EPERM\n$/,
        );
        // the same attack with CAP_DAC_READ_SEARCH given back reads the host's file: the check is real
        const hostname = readFileSync('/etc/hostname', 'utf8').split('\n')[0];
        // (on the rootfs directory itself: through an overlay the forged handle is only ESTALE)
        const given = await out(cmd(['escape', 'shocker', 'etc/hostname'], { capAdd: ['DAC_READ_SEARCH'], rootfsMode: 'direct', ...unconfined() }));
        assert.equal(given, `ESCAPED ${hostname}\n`);
      } finally {
        rmSync(vol, { recursive: true, force: true });
      }
    });

    it("the runtime's binary cannot be opened for writing from the container (CVE-2019-5736)", async () => {
      // with `init`, pid 1 of the container is a process of ours (native: our C init; lxc: LXC's)
      assert.match(await out(cmd(['escape', 'open-write', '/proc/1/exe'], { init: true })), /^blocked (EACCES|EPERM)\n$/);
      // privileged, the kernel still refuses to write a running executable
      assert.match(await out(cmd(['escape', 'open-write', '/proc/1/exe'], { init: true, privileged: true })), /^blocked (ETXTBSY|EACCES|EPERM)\n$/);
    });

    it('no descriptor of ours reaches the container (CVE-2024-21626)', async () => {
      assert.equal(await out(cmd(['escape', 'fds'])), 'fds none\n');
      assert.equal(await out(cmd(['escape', 'fds'], { tty: false, init: true })), 'fds none\n');
      // a working directory through a leaked descriptor does not exist
      for (const n of [3, 4, 5, 6, 7, 8]) {
        const cap = capture();
        const s = await driver.run(cmd(['pwd'], { workingDir: `/proc/self/fd/${n}` }), cap.pipes).catch((e: Error) => e);
        assert.ok(s instanceof Error || s.exitCode !== 0, `cwd /proc/self/fd/${n} worked: ${cap.out()}`);
      }
    });

    it("the caller's output file cannot be reopened through /proc/self/fd (the command line's stdout is a pipe)", () => {
      const dir = mkdtempSync(join(tmpdir(), 'execdriver-out-'));
      const file = join(dir, 'out');
      writeFileSync(file, 'host-secret\n');
      const fd = openSync(file, 'a');
      try {
        const r = spawnSync(
          CLI,
          ['--root', TEST_ROOT, '--driver', driverName, 'run', '--net', 'none', '--rootfs', rootfs.dir, '--', 'sh', '-c',
            'cat /proc/self/fd/1 2>/dev/null; readlink /proc/self/fd/1; echo truncated 2>/dev/null > /proc/self/fd/1; echo done'],
          { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', timeout: 60_000 },
        );
        assert.equal(r.status, 0, r.stderr);
      } finally {
        closeSync(fd);
      }
      const text = readFileSync(file, 'utf8');
      rmSync(dir, { recursive: true, force: true });
      const lines = text.split('\n');
      assert.equal(lines[0], 'host-secret', 'the file was not truncated');
      assert.equal(lines.filter((l) => l === 'host-secret').length, 1, `the container read the file: ${text}`);
      assert.ok(!text.includes(file), `the container sees the host path: ${text}`);
      assert.match(text, /(socket|pipe):\[\d+\]\n/);
      assert.ok(text.endsWith('done\n'));
    });

    it("a detached container's output reaches its log through pipes: it never holds the log file", async () => {
      const c = cmd(['sh', '-c', 'readlink /proc/self/fd/1; readlink /proc/self/fd/2; echo text > /proc/self/fd/1; echo done'], { id: uniqueId('escd') });
      await driver.start(c, { detach: true });
      assert.equal((await driver.wait(c.id, 20_000)).exitCode, 0);
      const r = spawnSync(CLI, ['--root', TEST_ROOT, '--driver', driverName, 'logs', c.id], { encoding: 'utf8' });
      await driver.delete(c.id);
      assert.match(r.stdout, /^pipe:\[\d+\]\npipe:\[\d+\]\n(text\n)?done\n$/);
    });

    it('a mount destination swapped to a symlink during start stays inside the rootfs (CVE-2021-30465)', async () => {
      const outside = mkdtempSync(join(tmpdir(), 'execdriver-outside-'));
      const vol = mkdtempSync(join(tmpdir(), 'execdriver-vol-'));
      writeFileSync(join(vol, 'volmark'), 'v');
      const target = join(rootfs.dir, 'race');
      // the racer: another process with write access to the rootfs (a second container, say) flips
      // the destination between a directory and a symlink to a host directory, as fast as it can
      const racer = `
        const fs = require('fs');
        const t = ${JSON.stringify(target)}, dir = t + '.dir', link = t + '.link';
        fs.mkdirSync(dir, { recursive: true });
        try { fs.symlinkSync(${JSON.stringify(outside)}, link); } catch {}
        const end = Date.now() + 60000;
        while (Date.now() < end) {
          try { fs.renameSync(dir, t); fs.renameSync(t, dir); fs.renameSync(link, t); fs.renameSync(t, link); } catch {}
        }`;
      const child = spawn(process.execPath, ['-e', racer], { stdio: 'ignore' });
      try {
        let mounted = 0;
        for (let i = 0; i < 25; i++) {
          const cap = capture();
          const s = await driver
            .run(cmd(['sh', '-c', 'ls /race 2>/dev/null; ls /race.dir 2>/dev/null; true'], { mounts: [{ source: vol, destination: '/race' }] }), cap.pipes)
            .catch((e: Error) => e);
          if (!(s instanceof Error) && cap.out().includes('volmark')) mounted++;
          assert.deepEqual(readdirSync(outside), [], `run ${i}: something was created or mounted on the host through the symlink`);
        }
        assert.ok(mounted > 0, 'no run mounted the volume at all');
      } finally {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        for (const p of [target, `${target}.dir`, `${target}.link`]) rmSync(p, { recursive: true, force: true });
        rmSync(outside, { recursive: true, force: true });
        rmSync(vol, { recursive: true, force: true });
      }
    });
  });
}

/** What turns the syscall filter off, for the cases that show an attack works without our defaults. */
function unconfined(): Partial<Command> {
  return { seccomp: 'unconfined' };
}

