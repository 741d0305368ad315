/**
 * The contract suite: the same behaviours, checked by real containers, for every driver.
 * A driver's test file calls `contractSuite(name)`; where a driver truly cannot do something,
 * `skips` names the case and says why (the README's table shows the same).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDriver, type Command, type ContainerStats, type ContainerEvent, type DriverName, type ExecProcess, type ManagedDriver } from '../../src/index.js';
import { processState } from '../../src/state/index.js';

const isAlive = (pid: number) => { const s = processState(pid); return s !== undefined && s !== 'Z'; };
import { MASKED_PATHS, READONLY_PATHS } from '../../src/restrictions.js';
import { OCI_VERSION, validateSpec } from '../../src/spec/index.js';
import type { ContainerRecord } from '../../src/lifecycle/record.js';
import { capture, CLI, makeRootfs, sleep, TEST_ROOT, uniqueId, until } from '../helpers.js';
import { leftoversOf } from '../lifecycle/chaos.js';

export interface SuiteOptions {
  /** case name → why this driver cannot do it */
  skips?: Record<string, string>;
}

export function contractSuite(driverName: DriverName, options: SuiteOptions = {}): void {
  describe(`contract: ${driverName} driver`, () => {
    let driver: ManagedDriver;
    let rootfs: { dir: string; cleanup: () => void };
    const cmd = (over: Partial<Command> & { entrypoint: string }): Command & { id: string } => ({
      id: uniqueId(driverName.slice(0, 2)),
      rootfs: rootfs.dir,
      network: { mode: 'none' },
      ...over,
    });
    const sh = (script: string, over: Partial<Command> = {}) => cmd({ entrypoint: 'sh', arguments: ['-c', script], ...over });
    const runOut = async (c: Command) => {
      const cap = capture();
      const status = await driver.run(c, cap.pipes);
      return { status, out: cap.out(), err: cap.err() };
    };
    const test = (name: string, fn: () => Promise<void>) => {
      const why = options.skips?.[name];
      it(name, why ? { skip: why } : {}, fn);
    };

    before(() => {
      driver = createDriver(driverName, { root: TEST_ROOT });
      rootfs = makeRootfs();
    });
    after(() => rootfs.cleanup());

    test('exit codes: exit 3 → 3, true → 0', async () => {
      assert.equal((await driver.run(sh('exit 3'))).exitCode, 3);
      assert.equal((await driver.run(cmd({ entrypoint: 'true' }))).exitCode, 0);
    });

    test('a signal death is 128+n with the signal name', async () => {
      const s = await driver.run(sh('kill -KILL $$; sleep 5', { init: true }));
      assert.equal(s.exitCode, 137);
    });

    test('isolation: hostname, pid 1, own /proc, own namespaces', async () => {
      const { status, out } = await runOut(
        sh('hostname; echo $$; ls /proc | grep -c "^[0-9]"; for n in mnt uts ipc pid net; do readlink /proc/self/ns/$n; done', {
          hostname: 'box1',
        }),
      );
      assert.equal(status.exitCode, 0);
      const lines = out.trim().split('\n');
      assert.equal(lines[0], 'box1');
      assert.equal(lines[1], '1');
      assert.ok(Number(lines[2]) <= 3, `only the container's processes in /proc: ${lines[2]}`);
      const host = ['mnt', 'uts', 'ipc', 'pid', 'net'].map((n) => readlinkSync(`/proc/self/ns/${n}`));
      assert.deepEqual(
        lines.slice(3).map((l, i) => l === host[i]),
        [false, false, false, false, false],
        `namespaces differ from the host's: ${lines.slice(3).join(' ')}`,
      );
    });

    test("the host's files are not reachable", async () => {
      const marker = join(tmpdir(), `execdriver-marker-${process.pid}`);
      writeFileSync(marker, 'secret');
      try {
        const { out } = await runOut(sh(`cat ${marker} 2>/dev/null || echo unreachable; ls /root >/dev/null && echo ok`));
        assert.match(out, /unreachable/);
      } finally {
        rmSync(marker, { force: true });
      }
    });

    test('/dev is nosuid,noexec: a program copied into /dev does not run', async () => {
      const { out, err } = await runOut(
        sh('awk \'$5 == "/dev" { o = $6 } END { print o }\' /proc/self/mountinfo; cp /bin/busybox /dev/bb && /dev/bb true; echo rc=$?'),
      );
      const [opts = ''] = out.trim().split('\n');
      assert.ok(opts.split(',').includes('nosuid') && opts.split(',').includes('noexec'), `/dev mounted ${opts}`);
      assert.match(out, /rc=126/);
      assert.match(err, /\/dev\/bb: Permission denied/);
    });

    test("masked and read-only kernel paths, Docker's defaults; none when privileged", async () => {
      const script = [
        // masked: present but empty (a directory: no entries; a file: nothing to read)
        `for p in ${MASKED_PATHS.join(' ')}; do`,
        '  if [ -d $p ]; then echo "$p $(ls -A $p | wc -l)"; elif [ -e $p ]; then echo "$p $(head -c 64 $p | wc -c)"; else echo "$p absent"; fi',
        'done',
        // read-only: the top mount at the path is ro
        `for p in ${READONLY_PATHS.join(' ')}; do`,
        '  [ -e $p ] && echo "$p $(awk -v p=$p \'$5 == p { o = $6 } END { print o }\' /proc/self/mountinfo)"',
        'done; true',
      ].join('\n');
      const { status, out } = await runOut(sh(script));
      assert.equal(status.exitCode, 0);
      const seen = new Map(out.trim().split('\n').map((l) => l.split(' ') as [string, string]));
      for (const p of MASKED_PATHS) {
        if (!existsSync(p)) continue; // this kernel has no such path
        assert.equal(seen.get(p), '0', `${p} is masked (empty inside; non-empty or absent: ${seen.get(p)})`);
      }
      for (const p of READONLY_PATHS) {
        if (!existsSync(p)) continue;
        assert.match(seen.get(p) ?? 'not mounted', /^ro(,|$)/, `${p} is read-only`);
      }
      assert.ok(seen.has('/proc/timer_list') && existsSync('/proc/timer_list'), 'a masked path this host has was checked');
      const priv = await runOut(sh('head -c 64 /proc/timer_list | wc -c; ls -A /sys/firmware | wc -l', { privileged: true }));
      assert.notEqual(priv.out.trim().split('\n')[0], '0', 'privileged: /proc/timer_list readable');
      assert.notEqual(priv.out.trim().split('\n')[1], '0', 'privileged: /sys/firmware not masked');
    });

    test('a mount destination through a symlink of the rootfs never creates anything outside it', async () => {
      const tag = `${process.pid}-${Math.floor(Math.random() * 1e6)}`;
      const hostPath = join(tmpdir(), `execdriver-symlink-${tag}`); // where the link points on the host
      const file = join(tmpdir(), `execdriver-vol-${tag}`);
      writeFileSync(file, 'content\n');
      symlinkSync(hostPath, join(rootfs.dir, `dangling-${tag}`));
      symlinkSync('/tmp', join(rootfs.dir, `to-tmp-${tag}`));
      try {
        // dangling in the rootfs: refused in one line, nothing made on the host nor in the rootfs
        const err = await driver.run(sh('true', { mounts: [{ source: file, destination: `/dangling-${tag}/evil`, writable: false }] })).then(
          () => assert.fail('the run should fail'),
          (e: Error & { code: string; exitCode?: number }) => e,
        );
        assert.equal(err.code, 'ERR_START_FAILED');
        assert.equal(err.exitCode, 125);
        assert.doesNotMatch(err.message, /\n/);
        assert.match(err.message, new RegExp(`dangling-${tag}/evil.*ENOENT|dangling-${tag}/evil.*[Nn]o such file`));
        assert.equal(existsSync(hostPath), false, `${hostPath} created on the host`);
        // a link to a directory of the rootfs: mounted where the link resolves inside the rootfs (as Docker does)
        const { status, out } = await runOut(
          sh(`cat /to-tmp-${tag}/evil-${tag} /tmp/evil-${tag}`, { mounts: [{ source: file, destination: `/to-tmp-${tag}/evil-${tag}`, writable: false }], rootfsMode: 'direct' }),
        );
        assert.equal(status.exitCode, 0);
        assert.equal(out, 'content\ncontent\n');
        assert.equal(existsSync(join(rootfs.dir, 'tmp', `evil-${tag}`)), true, 'the target made in the rootfs');
        assert.equal(existsSync(join(tmpdir(), `evil-${tag}`)), false, 'nothing in the host /tmp');
      } finally {
        for (const p of [`dangling-${tag}`, `to-tmp-${tag}`, `tmp/evil-${tag}`]) rmSync(join(rootfs.dir, p), { force: true });
        rmSync(file, { force: true });
        rmSync(hostPath, { recursive: true, force: true });
      }
    });

    test('capabilities: mount needs CAP_SYS_ADMIN; privileged has it', async () => {
      const plain = await driver.run(sh('mount -t tmpfs none /mnt 2>/dev/null'));
      assert.notEqual(plain.exitCode, 0);
      const priv = await driver.run(sh('mkdir -p /mnt && mount -t tmpfs none /mnt', { privileged: true }));
      assert.equal(priv.exitCode, 0);
    });

    test('only fds 0, 1, 2 are open (and ls its own)', async () => {
      const { out } = await runOut(cmd({ entrypoint: 'ls', arguments: ['/proc/self/fd'] }));
      assert.deepEqual(out.trim().split(/\s+/).sort(), ['0', '1', '2', '3']);
    });

    test('environment from the config only, with PATH and HOME', async () => {
      const { out } = await runOut(sh('env | sort', { env: ['FOO=bar'] }));
      assert.match(out, /^FOO=bar$/m);
      assert.match(out, /^PATH=/m);
      assert.match(out, /^HOME=\/root$/m);
      assert.doesNotMatch(out, /NODE|npm_/);
    });

    test('user: 1000:1000 and a name from the container files; working dir', async () => {
      assert.match((await runOut(cmd({ entrypoint: 'id', user: '1000:1000' }))).out, /^uid=1000(\(user\))? gid=1000/);
      const nobody = await runOut(cmd({ entrypoint: 'id', arguments: ['-u'], user: 'nobody' }));
      assert.equal(nobody.out.trim(), '65534');
      const wd = await runOut(cmd({ entrypoint: 'pwd', workingDir: '/tmp' }));
      assert.equal(wd.out.trim(), '/tmp');
    });

    test('read-only rootfs refuses writes', async () => {
      const s = await driver.run(sh('touch /x 2>/dev/null', { readonlyRootfs: true }));
      assert.notEqual(s.exitCode, 0);
    });

    test('volumes: writable, read-only, missing target created', async () => {
      const vol = mkdtempSync(join(tmpdir(), 'execdriver-vol-'));
      try {
        const rw = await driver.run(sh('echo hi > /data/f && echo ok', { mounts: [{ source: vol, destination: '/data' }] }));
        assert.equal(rw.exitCode, 0);
        const w = await driver.run(sh('echo hi > /data/f', { mounts: [{ source: vol, destination: '/data/deep/er' }] }));
        assert.equal(w.exitCode, 0);
        assert.ok(existsSync(join(vol, 'f')));
        const ro = await driver.run(sh('echo no > /data/g 2>/dev/null', { mounts: [{ source: vol, destination: '/data', writable: false }] }));
        assert.notEqual(ro.exitCode, 0);
        assert.ok(!existsSync(join(vol, 'g')));
      } finally {
        rmSync(vol, { recursive: true, force: true });
      }
    });

    test('memory limit: OOM kill → 137, oomKilled', async () => {
      const s = await driver.run(
        cmd({
          entrypoint: 'dd',
          arguments: ['if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'],
          resources: { memory: 32 * 1024 * 1024, memorySwap: 32 * 1024 * 1024 },
        }),
      );
      assert.equal(s.exitCode, 137);
      assert.equal(s.oomKilled, true);
    });

    test('pids limit stops a burst of forks', async () => {
      const { out } = await runOut(
        sh('n=0; for i in $(seq 1 40); do sleep 5 & n=$((n+1)); done 2>/dev/null; jobs -p | wc -l; kill $(jobs -p) 2>/dev/null; true', {
          resources: { pidsLimit: 10 },
        }),
      );
      assert.ok(Number(out.trim()) < 40, `forks were limited (${out.trim()} of 40 ran)`);
    });

    test('a missing program → 127, a non-executable file → 126', async () => {
      await assert.rejects(driver.run(cmd({ entrypoint: 'no-such-program' })), (e: { exitCode: number; message: string }) => {
        assert.equal(e.exitCode, 127);
        assert.match(e.message, /no-such-program/);
        return true;
      });
      await assert.rejects(driver.run(cmd({ entrypoint: '/notexec' })), (e: { exitCode: number }) => e.exitCode === 126);
    });

    test('detached: pids, info, kill TERM reaches a trap', async () => {
      // the signal must come once the trap is set (before, pid 1 without a handler ignores it)
      const c = sh('trap "exit 42" TERM; touch /tmp/$HOSTNAME.trap; while :; do sleep 1; done', { rootfsMode: 'direct' });
      const started = await driver.start(c, { detach: true });
      try {
        assert.equal(driver.info(c.id).isRunning(), true);
        const pids = await driver.getPidsForContainer(c.id);
        assert.ok(pids.includes(started.pid), `pids ${pids} include init ${started.pid}`);
        const ready = join(rootfs.dir, 'tmp', `${c.id.slice(0, 12)}.trap`);
        await until(() => existsSync(ready), 10_000, 'the trap to be set');
        rmSync(ready, { force: true });
        await driver.kill(c.id, 'SIGTERM');
        const s = await driver.wait(c.id, 20_000);
        assert.equal(s.exitCode, 42);
        assert.equal(driver.info(c.id).isRunning(), false);
      } finally {
        await driver.delete(c.id, { force: true });
      }
    });

    test('the same id under two state roots at once: both run, each sees only its own', async () => {
      const otherRoot = `${TEST_ROOT}-second-root`;
      const other = createDriver(driverName, { root: otherRoot });
      const a = sh('sleep 1000 & wait');
      const b = { ...a };
      const sa = await driver.start(a, { detach: true });
      try {
        const sb = await other.start(b, { detach: true });
        try {
          assert.notEqual(sa.pid, sb.pid);
          const [pa, pb] = [await driver.getPidsForContainer(a.id), await other.getPidsForContainer(b.id)];
          assert.ok(pa.includes(sa.pid) && !pa.includes(sb.pid), `root 1 pids ${pa}`);
          assert.ok(pb.includes(sb.pid) && !pb.includes(sa.pid), `root 2 pids ${pb}`);
          assert.equal(pa.filter((p) => pb.includes(p)).length, 0, 'no pid in both');
          // kill --all and terminate reach only their own root's container
          await other.kill(b.id, 'SIGKILL', { all: true });
          assert.equal((await other.wait(b.id, 20_000)).exitCode, 137);
          assert.equal(driver.info(a.id).isRunning(), true);
          assert.deepEqual(await driver.getPidsForContainer(a.id), pa);
        } finally {
          await other.delete(b.id, { force: true });
        }
        assert.equal(driver.info(a.id).isRunning(), true, 'deleting the other root\'s container left this one');
        assert.deepEqual((await other.list()).map((c) => c.id), []);
        assert.ok((await driver.list()).some((c) => c.id === a.id && c.running));
      } finally {
        await driver.terminate(a.id);
        await driver.delete(a.id).catch(() => {});
        rmSync(otherRoot, { recursive: true, force: true });
      }
    });

    test('detached: kill KILL → 137 SIGKILL; terminate ends a sleep at once', async () => {
      const a = cmd({ entrypoint: 'sleep', arguments: ['1000'] });
      await driver.start(a, { detach: true });
      await driver.kill(a.id, 'SIGKILL');
      const s = await driver.wait(a.id, 20_000);
      assert.equal(s.exitCode, 137);
      assert.equal(s.signal, 'SIGKILL');
      await driver.delete(a.id);

      const b = cmd({ entrypoint: 'sleep', arguments: ['1000'] });
      await driver.start(b, { detach: true });
      await driver.terminate(b.id);
      assert.equal(driver.info(b.id).isRunning(), false);
      await assert.rejects(driver.getPidsForContainer(b.id));
    });

    test('pid 1 ignores TERM without a handler; --init makes TERM end it (143)', async () => {
      const plain = cmd({ entrypoint: 'sleep', arguments: ['1000'] });
      const p = await driver.start(plain, { detach: true });
      await driver.kill(plain.id, 'SIGTERM');
      await sleep(300);
      assert.equal(driver.info(plain.id).isRunning(), true, 'a plain sleep as pid 1 survives TERM');
      await driver.terminate(plain.id);
      assert.ok(p.pid > 0);

      const withInit = cmd({ entrypoint: 'sleep', arguments: ['1000'], init: true });
      await driver.start(withInit, { detach: true });
      await driver.kill(withInit.id, 'SIGTERM');
      const s = await driver.wait(withInit.id, 20_000);
      assert.equal(s.exitCode, 143);
      await driver.delete(withInit.id);
    });

    test("a detached container's exited resolves with its recorded status when awaited", async () => {
      const c = sh('sleep 0.2; exit 9');
      const started = await driver.start(c, { detach: true });
      try {
        const s = await started.exited;
        assert.equal(s.exitCode, 9);
        assert.equal(s.oomKilled, false);
      } finally {
        await driver.delete(c.id, { force: true });
      }
    });

    test('a foreground container dies with the Node process that runs it; list reclaims it', async () => {
      const id = uniqueId(driverName.slice(0, 2));
      const index = new URL('../../src/index.js', import.meta.url).href;
      const script = `
        const { createDriver } = await import(${JSON.stringify(index)});
        const d = createDriver(${JSON.stringify(driverName)}, { root: ${JSON.stringify(TEST_ROOT)} });
        await d.run({ id: ${JSON.stringify(id)}, rootfs: ${JSON.stringify(rootfs.dir)}, entrypoint: 'sleep', arguments: ['1000'],
          network: { mode: 'none' } }, {}, () => console.log('started'));`;
      const { spawn } = await import('node:child_process');
      const node = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => node.stdout!.once('data', () => resolve()));
      assert.equal(driver.info(id).isRunning(), true);
      node.kill('SIGKILL');
      await until(() => !driver.info(id).isRunning(), 10_000, 'the container to die with its Node process');
      await until(async () => (await driver.list()).every((c) => c.id !== id), 10_000, 'list to reclaim it');
      assert.equal(existsSync(join(TEST_ROOT, driverName, id)), false);
    });

    test('kill --all signals every process of the container', async () => {
      const c = sh('sleep 1000 & sleep 1000 & wait', { init: true });
      await driver.start(c, { detach: true });
      try {
        await until(async () => (await driver.getPidsForContainer(c.id)).length >= 3, 10_000, 'three processes');
        await driver.kill(c.id, 'SIGKILL', { all: true });
        const s = await driver.wait(c.id, 20_000);
        assert.ok(s.exitCode >= 128, `killed: ${s.exitCode}`);
      } finally {
        await driver.delete(c.id, { force: true });
      }
    });

    test('onStart gets the pid of a running container; stdin is passed when asked', async () => {
      const { PassThrough } = await import('node:stream');
      const stdin = new PassThrough();
      const cap = capture();
      let seen = 0;
      const c = cmd({ entrypoint: 'cat' });
      const status = await driver.run(c, { ...cap.pipes, stdin }, (info) => {
        seen = info.pid;
        assert.equal(info.id, c.id);
        assert.ok(driver.info(c.id).isRunning());
        stdin.end('hello through stdin\n');
      });
      assert.ok(seen > 0);
      assert.equal(status.exitCode, 0);
      assert.equal(cap.out(), 'hello through stdin\n');
    });

    test('tty: one terminal on fds 0-2 with plain streams, stderr merged, a size, resize', async () => {
      assert.ok(driver.resize, 'the driver can resize a terminal');
      const { PassThrough } = await import('node:stream');
      const stdin = new PassThrough();
      const cap = capture();
      const c = sh('test -t 0 && test -t 1 && test -t 2 && echo "tty $TERM"; echo err >&2; stty size; read x; stty size; exit 3', {
        tty: true,
      });
      const started = await driver.start(c, { pipes: { stdin, stdout: cap.pipes.stdout }, consoleSize: { rows: 30, cols: 90 } });
      await until(() => /30 90/.test(cap.out()), 10_000, 'the first size');
      started.resize!(40, 100);
      await sleep(200);
      stdin.write('go\n');
      assert.equal((await started.exited).exitCode, 3);
      assert.equal(cap.out(), 'tty xterm\r\nerr\r\n30 90\r\ngo\r\n40 100\r\n');
      assert.equal(cap.err(), '');
    });

    test('tty: detached keeps its terminal; attach, detach keys, output while detached, re-attach', async () => {
      assert.ok(driver.attach && driver.resize, 'the driver can attach to a terminal');
      const { PassThrough } = await import('node:stream');
      const c = sh('read a; echo "got-$a"; read b; (sleep 0.5; echo "later-$b") & read c; exit 6', { tty: true });
      await driver.start(c, { detach: true });
      try {
        const attach = async () => {
          const stdin = new PassThrough();
          const cap = capture();
          const session = await driver.attach!(c.id, { stdin, stdout: cap.pipes.stdout, size: { rows: 20, cols: 60 } });
          return { stdin, out: cap.out, session };
        };
        const a = await attach();
        a.stdin.write('one\n');
        await until(() => a.out().includes('got-one\r\n'), 10_000, 'the first answer');
        a.stdin.write('two\n\x10\x11'); // then Ctrl-P Ctrl-Q
        assert.equal(await a.session.done, 'detached');
        await sleep(1000);
        assert.equal(driver.info(c.id).isRunning(), true);
        const b = await attach();
        await until(() => b.out().includes('later-two\r\n'), 10_000, 'the output made while detached');
        await driver.resize!(c.id, 25, 70);
        b.session.detach();
        assert.equal(await b.session.done, 'detached');
        const last = await attach();
        last.stdin.write('three\n');
        assert.equal(await last.session.done, 'ended');
        assert.equal((await driver.wait(c.id, 20_000)).exitCode, 6);
      } finally {
        await driver.delete(c.id, { force: true });
      }
    });

    test('bad input: clear errors, nothing created', async () => {
      const before = new Set(await listStateDirs(driverName));
      const cases: [Partial<Command>, RegExp][] = [
        [{ rootfs: '/nonexistent-rootfs' }, /rootfs .* does not exist/],
        [{ rootfs: '/etc/hostname' }, /not a directory/],
        [{ resources: { memory: 1 } }, /memory/],
        [{ capAdd: ['NOT_A_CAP'] }, /unknown capability/],
        [{ mounts: [{ source: 'relative/path', destination: '/x' }] }, /absolute/],
        [{ user: 'nosuchuser' }, /unknown user "nosuchuser"/],
        [{ id: 'bad/id' }, /invalid container id/],
      ];
      for (const [over, re] of cases) {
        await assert.rejects(driver.run(cmd({ entrypoint: 'true', ...over })), (e: Error & { code: string }) => {
          assert.equal(e.code, 'ERR_INVALID_CONFIG', `${JSON.stringify(over)}: ${e.message}`);
          assert.match(e.message, re);
          return true;
        });
      }
      assert.deepEqual(new Set(await listStateDirs(driverName)), before);
    });

    test('a duplicate id is refused and the running one is untouched', async () => {
      const c = cmd({ entrypoint: 'sleep', arguments: ['1000'] });
      await driver.start(c, { detach: true });
      try {
        await assert.rejects(driver.run({ ...c }), (e: Error & { code: string }) => e.code === 'ERR_CONTAINER_EXISTS');
        assert.equal(driver.info(c.id).isRunning(), true);
      } finally {
        await driver.terminate(c.id);
      }
    });

    // spec helper (issue 9): the container's OCI spec is its one model, kept as config.json
    describe('the OCI spec: <state>/config.json', () => {
      test('a running container has its spec as config.json: valid, and what it runs with', async () => {
        const c = sh('sleep 1000', { hostname: 'spec-1', env: ['A=1'], user: '1000:1000', resources: { memory: 32 << 20, pidsLimit: 50 }, capAdd: ['NET_ADMIN'] });
        await driver.start(c, { detach: true });
        try {
          const dir = join(TEST_ROOT, driverName, c.id);
          const spec = validateSpec(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
          assert.equal(spec.ociVersion, OCI_VERSION);
          assert.deepEqual(spec.process?.args, ['sh', '-c', 'sleep 1000']);
          assert.deepEqual([spec.process?.user.uid, spec.process?.user.gid], [1000, 1000]);
          assert.ok(spec.process?.env?.includes('A=1'));
          assert.equal(spec.hostname, 'spec-1');
          assert.equal(spec.root?.path, rootfs.dir);
          assert.deepEqual(spec.linux?.resources?.memory, { limit: 32 << 20 });
          assert.deepEqual(spec.linux?.resources?.pids, { limit: 50 });
          assert.deepEqual(spec.linux?.maskedPaths, [...MASKED_PATHS]);
          assert.deepEqual(spec.linux?.readonlyPaths, [...READONLY_PATHS]);
          assert.ok(spec.process?.capabilities?.bounding?.includes('CAP_NET_ADMIN'));
          assert.ok(!spec.process?.capabilities?.bounding?.includes('CAP_SYS_ADMIN'));
          assert.deepEqual(spec.process?.capabilities?.effective, [], 'a non-root user has no effective capabilities');
          assert.equal(spec.linux?.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
          assert.ok(spec.linux?.seccomp?.syscalls?.every((x) => !('includes' in x) && !('excludes' in x)), "the OCI form, not Docker's");
          assert.deepEqual(spec.linux?.namespaces?.map((n) => n.type).slice(0, 5), ['mount', 'uts', 'ipc', 'pid', 'network']);
          // what the container got is what the spec says
          const { out } = await runOut(sh('id -u; grep CapBnd /proc/self/status', { user: '1000:1000', capAdd: ['NET_ADMIN'] }));
          assert.match(out, /^1000\nCapBnd:\s+00000000a80435fb\n$/);
          if (driverName === 'native') {
            const record = JSON.parse(readFileSync(join(dir, 'container.json'), 'utf8')) as { args: string[]; hostname: string };
            assert.deepEqual([record.args, record.hostname], [spec.process?.args, 'spec-1'], 'container.json is derived from the spec');
          }
        } finally {
          await driver.terminate(c.id);
        }
      });
    });

    // ops (issue 9): pause/resume, stats, update, top
    describe('ops: pause, stats, update, top', () => {
      const MiB = 1024 * 1024;
      const started = new Set<string>();
      const detached = async (script: string, over: Partial<Command> = {}) => {
        const c = sh(script, over);
        const h = await driver.start(c, { detach: true });
        started.add(c.id);
        return { id: c.id, pid: h.pid };
      };
      after(async () => {
        for (const id of started) await driver.delete(id, { force: true }).catch(() => {});
      });
      /** the counter the container's loop writes to /tmp/ctr, read through its root */
      const counter = (pid: number) => {
        try {
          const n = Number.parseInt(readFileSync(`/proc/${pid}/root/tmp/ctr`, 'utf8'), 10);
          return Number.isFinite(n) ? n : 0;
        } catch {
          return 0;
        }
      };
      const LOOP = 'i=0; while :; do i=$((i+1)); echo $i > /tmp/ctr; done';

      test('pause freezes: no CPU growth over 1 s, the counter stops; unpause resumes it', async () => {
        const { id, pid } = await detached(LOOP);
        await until(() => counter(pid) > 10, 10_000, 'the counter to run');
        await driver.pause(id);
        assert.equal(driver.inspect(id).status, 'paused');
        assert.equal(driver.inspect(id).running, true);
        const s1 = await driver.stats(id);
        const c1 = counter(pid);
        await sleep(1000);
        const s2 = await driver.stats(id, { previous: s1 });
        assert.ok(s1.cpu && s2.cpu, 'CPU accounted');
        assert.ok(s2.cpu.usageNs - s1.cpu.usageNs < 2_000_000, `no CPU growth while paused: ${s2.cpu.usageNs - s1.cpu.usageNs} ns`);
        assert.ok((s2.cpu.percent ?? 1) < 0.5, `CPU % while paused: ${s2.cpu.percent}`);
        assert.equal(counter(pid), c1, 'the counter stopped');
        await assert.rejects(driver.pause(id), (e: Error & { exitCode: number }) => e.exitCode === 1 && /already paused/.test(e.message));
        await driver.resume(id);
        assert.equal(driver.inspect(id).status, 'running');
        await until(() => counter(pid) > c1 + 10, 10_000, 'the counter to advance again');
        const s3 = await driver.stats(id, { previous: s2 });
        assert.ok(s3.cpu!.usageNs > s2.cpu!.usageNs, 'CPU time grows again');
        await assert.rejects(driver.resume(id), (e: Error & { exitCode: number }) => e.exitCode === 1 && /is not paused/.test(e.message));
      });

      test('kill (SIGKILL) of a paused container ends it; terminate and delete --force work on paused ones', async () => {
        const a = await detached(LOOP);
        await driver.pause(a.id);
        await driver.kill(a.id, 'SIGKILL');
        const st = await driver.wait(a.id, 10_000);
        assert.equal(st.exitCode, 137);
        await driver.delete(a.id);
        const b = await detached(LOOP);
        await driver.pause(b.id);
        await driver.terminate(b.id);
        assert.throws(() => driver.inspect(b.id), (e: Error & { code: string }) => e.code === 'ERR_NOT_FOUND');
        const c = await detached(LOOP);
        await driver.pause(c.id);
        await driver.delete(c.id, { force: true });
        assert.throws(() => driver.inspect(c.id), (e: Error & { code: string }) => e.code === 'ERR_NOT_FOUND');
      });

      test('a paused foreground container still dies with the Node process that runs it', async () => {
        const id = uniqueId(driverName.slice(0, 2));
        const index = new URL('../../src/index.js', import.meta.url).href;
        const script = `
          const { createDriver } = await import(${JSON.stringify(index)});
          const d = createDriver(${JSON.stringify(driverName)}, { root: ${JSON.stringify(TEST_ROOT)} });
          await d.run({ id: ${JSON.stringify(id)}, rootfs: ${JSON.stringify(rootfs.dir)}, entrypoint: 'sleep', arguments: ['1000'],
            network: { mode: 'none' } }, {}, () => console.log('started'));`;
        const { spawn } = await import('node:child_process');
        const node = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        await new Promise<void>((resolve) => node.stdout!.once('data', () => resolve()));
        await driver.pause(id);
        assert.equal(driver.inspect(id).status, 'paused');
        node.kill('SIGKILL');
        // the native monitor thaws after its SIGKILL (thaw-on-kill); for lxc the engine's settling (list) does
        await until(async () => (await driver.list(), !driver.info(id).isRunning()), 10_000, 'the paused container to die with its Node process');
        await until(async () => (await driver.list()).every((c) => c.id !== id), 10_000, 'list to reclaim it');
        assert.equal(existsSync(join(TEST_ROOT, driverName, id)), false);
      });

      test('stats: memory of a container holding 24 MiB is at least 20 MiB; pids current matches top', async () => {
        const { id, pid } = await detached('dd if=/dev/zero bs=24M count=1 2>/dev/null | sleep 1000');
        const s = await until<ContainerStats | undefined>(
          async () => {
            const x = await driver.stats(id);
            return x.memory && x.memory.usage >= 20 * MiB && x.pids.current === 3 ? x : undefined;
          },
          10_000,
          'the container to hold 20 MiB',
        );
        if (!s) throw new Error('unreachable');
        assert.equal(s.pid, pid);
        assert.equal(s.memory!.oomKills, 0);
        const top = await driver.top(id);
        assert.equal(top.length, s.pids.current, JSON.stringify(top));
        assert.ok(top.some((p) => p.command.join(' ') === 'sleep 1000'), JSON.stringify(top));
        assert.ok(top.find((p) => p.pid === pid), 'the init is listed by its host pid');
        assert.ok(top.every((p) => p.containerPid < p.pid && p.user === 'root'), JSON.stringify(top));
      });

      test('update --memory 32m on a running container, then allocating 64 MiB: OOM-killed', async () => {
        const { id, pid } = await detached(
          "trap 'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo $? > /tmp/ddrc' USR1; while :; do sleep 0.05; done",
        );
        // the trap is set once the loop runs
        await until(async () => (await driver.top(id)).some((p) => p.command[0] === 'sleep'), 10_000, 'the loop to run');
        assert.equal((await driver.stats(id)).memory?.limit ?? null, null);
        await driver.update(id, { memory: 32 * MiB, memorySwap: 32 * MiB, pidsLimit: 50 });
        const s = await driver.stats(id);
        assert.equal(s.memory?.limit, 32 * MiB);
        assert.equal(s.pids.limit, 50);
        await driver.kill(id, 'SIGUSR1');
        const rc = await until(() => {
          try {
            return readFileSync(`/proc/${pid}/root/tmp/ddrc`, 'utf8').trim();
          } catch {
            return '';
          }
        }, 20_000, 'the allocation to end');
        assert.equal(rc, '137', 'the allocating process was SIGKILLed');
        assert.ok((await driver.stats(id)).memory!.oomKills >= 1, 'by the OOM killer of the container');
      });

      test('bad input: update with a bad limit changes nothing; a stopped container: exit 1', async () => {
        const { id } = await detached('sleep 1000');
        const cases: [Record<string, unknown>, RegExp][] = [
          [{ memory: 100 }, /memory 100: the minimum is 6 MiB/],
          [{ memorySwap: 64 * MiB }, /a swap limit needs a memory limit/],
          [{ cpusetCpus: '3-1' }, /cpusetCpus/],
          [{ memroy: 64 * MiB }, /memroy/],
          [{}, /no limit/],
        ];
        for (const [r, re] of cases) {
          await assert.rejects(driver.update(id, r as never), (e: Error & { code: string }) => e.code === 'ERR_INVALID_CONFIG' && re.test(e.message));
        }
        assert.equal((await driver.stats(id)).memory?.limit ?? null, null, 'nothing changed');
        await assert.rejects(driver.pause('no-such-ops'), (e: Error & { code: string }) => e.code === 'ERR_NOT_FOUND');
        await driver.kill(id, 'SIGKILL');
        await driver.wait(id, 10_000);
        const ops = [() => driver.pause(id), () => driver.resume(id), () => driver.stats(id), () => driver.update(id, { memory: 64 * MiB }), () => driver.top(id)];
        for (const op of ops) {
          await assert.rejects(op(), (e: Error & { code: string; exitCode: number }) => {
            assert.equal(e.code, 'ERR_NOT_RUNNING', e.message);
            assert.equal(e.exitCode, 1);
            assert.match(e.message, /is not running: cannot/);
            assert.ok(!e.message.includes('\n'));
            return true;
          });
        }
      });
    });
  });

  // --- exec (issue 9, part "exec"): another process in a running container
  describe(`contract: ${driverName} driver: exec`, () => {
    let driver: ManagedDriver;
    let rootfs: { dir: string; cleanup: () => void };
    let id: string;
    let initPid: number;
    const execOut = async (proc: ExecProcess) => {
      const cap = capture();
      const h = await driver.exec(id, proc, { pipes: cap.pipes });
      const status = await h.exited;
      return { status, out: cap.out(), err: cap.err(), pid: h.pid };
    };
    const statusOf = (pid: number) => readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (status: string, name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];

    before(async () => {
      driver = createDriver(driverName, { root: TEST_ROOT });
      rootfs = makeRootfs();
      id = uniqueId(`exec${driverName.slice(0, 2)}`);
      const h = await driver.start(
        { id, rootfs: rootfs.dir, rootfsMode: 'direct', network: { mode: 'none' }, entrypoint: 'sh', arguments: ['-c', 'echo from-init > /tmp/init-wrote; exec sleep 1000'] },
        { detach: true },
      );
      initPid = h.pid;
      await until(() => existsSync(join(rootfs.dir, 'tmp/init-wrote')), 10_000, 'the init to write its file');
      await until(() => /sleep/.test(readFileSync(`/proc/${initPid}/cmdline`, 'utf8')), 10_000, 'the init to exec sleep');
    });
    after(async () => {
      await driver.terminate(id).catch(() => {});
      rootfs.cleanup();
    });

    it('is a child of the container\'s pid namespace: a pid other than 1, /proc/1 is the init', async () => {
      const { status, out } = await execOut({ args: ['sh', '-c', 'echo $$; cat /proc/1/cmdline | tr "\\0" " "'] });
      assert.equal(status.exitCode, 0);
      const [pid, cmdline] = out.split('\n');
      assert.notEqual(pid, '1');
      assert.ok(Number(pid) > 1, out);
      assert.equal(cmdline!.trim(), 'sleep 1000');
    });

    it('sees what the init wrote, and ps shows it among the container\'s processes', async () => {
      const { out } = await execOut({ args: ['sh', '-c', 'cat /tmp/init-wrote; ps -o pid,comm'] });
      assert.match(out, /^from-init\n/);
      assert.match(out, /^\s*1\s+sleep$/m);
      assert.match(out, /\bps$/m);
    });

    it('joins every namespace and the cgroups of the init', async () => {
      const names = ['mnt', 'uts', 'ipc', 'pid', 'net', 'cgroup', 'user'];
      const { out } = await execOut({ args: ['sh', '-c', `for n in ${names.join(' ')}; do readlink /proc/self/ns/$n; done; echo ---; cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup`] });
      const [ns, mine, init] = out.split('---\n');
      assert.deepEqual(ns!.trim().split('\n'), names.map((n) => readlinkSync(`/proc/${initPid}/ns/${n}`)));
      assert.equal(mine, init);
      // from the host: the exec'd process is in the container's cgroups
      const h = await driver.exec(id, { args: ['sleep', '100'] });
      try {
        assert.equal(readFileSync(`/proc/${h.pid}/cgroup`, 'utf8'), readFileSync(`/proc/${initPid}/cgroup`, 'utf8'));
        assert.ok((await driver.getPidsForContainer(id)).includes(h.pid));
      } finally {
        await h.kill();
        assert.equal((await h.exited).exitCode, 137);
      }
    });

    it('has the init\'s capability sets and seccomp filter, and no fds of ours', async () => {
      const { out } = await execOut({ args: ['sh', '-c', 'cat /proc/self/status; echo ---; ls /proc/self/fd'] });
      const [st, fds] = out.split('---\n');
      const init = statusOf(initPid);
      for (const f of ['CapBnd', 'CapEff', 'CapPrm', 'CapInh', 'CapAmb', 'Seccomp', 'NoNewPrivs']) assert.equal(field(st!, f), field(init, f), f);
      assert.equal(field(st!, 'Seccomp'), '2');
      assert.deepEqual(fds!.trim().split(/\s+/).sort(), ['0', '1', '2', '3']); // 3: ls's own directory
    });

    it('-u nobody, env, cwd; exit 3 → 3; a missing program → 127; not executable → 126', async () => {
      const r = await execOut({ args: ['sh', '-c', 'id -u; id -g; echo $FOO; pwd'], user: 'nobody', env: ['FOO=bar'], cwd: '/tmp' });
      assert.equal(r.out, '65534\n65534\nbar\n/tmp\n');
      assert.equal((await execOut({ args: ['sh', '-c', 'exit 3'] })).status.exitCode, 3);
      await assert.rejects(driver.exec(id, { args: ['no-such-program'] }), (e: Error & { code: string; exitCode: number }) => {
        assert.equal(e.code, 'ERR_EXEC_NOT_FOUND');
        assert.equal(e.exitCode, 127);
        return true;
      });
      await assert.rejects(driver.exec(id, { args: ['/notexec'] }), (e: Error & { exitCode: number }) => e.exitCode === 126);
      // a signal death is 128+n
      assert.equal((await execOut({ args: ['sh', '-c', 'kill -TERM $$'] })).status.exitCode, 143);
    });

    it('tty: a terminal of its own', async () => {
      const { status, out } = await execOut({ args: ['sh', '-c', '[ -t 0 ] && [ -t 1 ] && echo tty; tty'], tty: true });
      assert.equal(status.exitCode, 0);
      assert.match(out, /^tty\r?\n\/dev\/pts\/\d+/);
    });

    it('stdio pipe: the handle\'s streams', async () => {
      const h = await driver.exec(id, { args: ['tr', 'a-z', 'A-Z'] }, { stdio: 'pipe' });
      let out = '';
      h.stdout!.on('data', (d: Buffer) => (out += d));
      h.stdin!.end('hello\n');
      assert.equal((await h.exited).exitCode, 0);
      await until(() => out === 'HELLO\n', 5000, 'the output');
    });

    it('killing the container also ends a detached exec', async () => {
      const c = { id: uniqueId(`exk${driverName.slice(0, 2)}`), rootfs: rootfs.dir, network: { mode: 'none' as const }, entrypoint: 'sleep', arguments: ['1000'] };
      const h = await driver.start(c, { detach: true });
      try {
        const e = await driver.exec(c.id, { args: ['sleep', '999'] }, { detach: true });
        assert.ok(existsSync(`/proc/${e.pid}`));
        await driver.kill(c.id, 'SIGKILL');
        await until(() => !isAlive(e.pid), 10_000, 'the exec\'d process to die with the container');
        await driver.wait(c.id, 10_000);
        void h;
      } finally {
        await driver.delete(c.id, { force: true }).catch(() => {});
      }
      assert.equal(existsSync(join(TEST_ROOT, driverName, c.id)), false);
    });

    it('bad input: unknown id (125), a stopped container (1), bad fields; nothing is created', async () => {
      const before = readdirSync(join(TEST_ROOT, driverName, id));
      await assert.rejects(driver.exec('no-such-exec-container', { args: ['true'] }), (e: Error & { code: string; exitCode: number }) => {
        assert.equal(e.code, 'ERR_NOT_FOUND');
        assert.equal(e.exitCode, 125);
        return true;
      });
      for (const bad of [{ args: [] }, { args: ['true'], env: ['NOEQUALS'] }, { args: ['true'], cwd: 'rel' }, { args: ['true'], user: 'no-such-user' }, { args: ['true'], bogus: 1 }]) {
        await assert.rejects(driver.exec(id, bad as unknown as ExecProcess), (e: Error & { code: string }) => e.code === 'ERR_INVALID_CONFIG');
      }
      assert.deepEqual(readdirSync(join(TEST_ROOT, driverName, id)).sort(), before.sort());
      const c = { id: uniqueId(`exs${driverName.slice(0, 2)}`), rootfs: rootfs.dir, network: { mode: 'none' as const }, entrypoint: 'true' };
      await driver.start(c, { detach: true });
      try {
        await driver.wait(c.id, 10_000);
        await assert.rejects(driver.exec(c.id, { args: ['true'] }), (e: Error & { code: string; exitCode: number }) => {
          assert.equal(e.code, 'ERR_NOT_RUNNING');
          assert.equal(e.exitCode, 1);
          assert.match(e.message, /not running/);
          return true;
        });
        assert.equal(existsSync(join(TEST_ROOT, driverName, c.id, 'exec')), false);
      } finally {
        await driver.delete(c.id, { force: true }).catch(() => {});
      }
    });
  });
  lifecycleEngineSuite(driverName);
  dockerFieldsSuite(driverName); // cli (issue 12)
}

/** Issue 9, engine: one record, one status machine, one exit mapping, crash settling (both drivers). */
function lifecycleEngineSuite(driverName: DriverName): void {
  describe(`contract: ${driverName} driver: one lifecycle (record, statuses, settling)`, () => {
    let driver: ManagedDriver;
    let rootfs: { dir: string; cleanup: () => void };
    const cmd = (over: Partial<Command> & { entrypoint: string }): Command & { id: string } => ({
      id: uniqueId(`eng${driverName.slice(0, 1)}`),
      rootfs: rootfs.dir,
      network: { mode: 'none' },
      ...over,
    });
    const recordOf = (id: string) => JSON.parse(readFileSync(join(TEST_ROOT, driverName, id, 'state.json'), 'utf8')) as ContainerRecord;
    before(() => {
      driver = createDriver(driverName, { root: TEST_ROOT });
      rootfs = makeRootfs();
    });
    after(() => rootfs.cleanup());

    it('the record: owner, init and monitor, running, then stopped with the exit status decoded once', async () => {
      const c = cmd({ entrypoint: 'sh', arguments: ['-c', 'sleep 0.3; exit 3'] });
      const started = await driver.start(c, { detach: true });
      const rec = recordOf(c.id);
      assert.equal(rec.status, 'running');
      assert.equal(rec.driver, driverName);
      assert.equal(rec.owner.pid, process.pid);
      assert.equal(rec.pid, started.pid);
      assert.ok(rec.monitorPid > 0);
      assert.equal(rec.detached, true);
      assert.deepEqual(rec.command, ['sh', '-c', 'sleep 0.3; exit 3']);
      assert.equal((await driver.wait(c.id, 10_000)).exitCode, 3);
      assert.equal(driver.inspect(c.id).status, 'exited');
      await driver.delete(c.id);
      const k = cmd({ entrypoint: 'sleep', arguments: ['1000'] });
      await driver.start(k, { detach: true });
      await driver.kill(k.id, 'SIGKILL');
      const s = await driver.wait(k.id, 10_000);
      assert.equal(s.exitCode, 137);
      assert.equal(s.signal, 'SIGKILL');
      await driver.delete(k.id);
    });

    it('a record whose creator died while creating is settled by the next list, run or delete', async () => {
      // a creation cut short: the record says creating, its owner (a process that has exited) is gone
      const dead = spawnSync('true').pid!;
      const abandoned = () => {
        const c = cmd({ entrypoint: 'true' });
        const dir = join(TEST_ROOT, driverName, c.id);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'state.json'), JSON.stringify({
          version: 1, id: c.id, driver: driverName, status: 'creating', owner: { pid: dead, startTime: 1 }, pid: 0, startTime: 0,
          monitorPid: 0, monitorStartTime: 0, detached: false, createdAt: new Date().toISOString(), startedAt: null, command: ['true'], cgroupPaths: [], extra: {},
        }));
        return dir;
      };
      const a = abandoned();
      assert.equal((await driver.list()).some((x) => x.id === a.split('/').pop()), false);
      assert.equal(existsSync(a), false, 'list settles it');
      const b = abandoned();
      assert.equal((await driver.run(cmd({ entrypoint: 'true' }))).exitCode, 0);
      assert.equal(existsSync(b), false, 'run settles it');
      const c = abandoned();
      await driver.delete(c.split('/').pop()!);
      assert.equal(existsSync(c), false, 'delete settles it');
    });

    it('a SIGKILLed terminate is finished by the next terminate', async () => {
      for (const delay of [120, 180, 240, 300]) {
        const c = cmd({ entrypoint: 'sleep', arguments: ['1000'] });
        await driver.start(c, { detach: true });
        const cli = spawn(process.execPath, [CLI, '--root', TEST_ROOT, '--driver', driverName, 'terminate', c.id], { stdio: 'ignore' });
        await sleep(delay);
        cli.kill('SIGKILL');
        await new Promise((r) => (cli.exitCode !== null || cli.signalCode !== null ? r(null) : cli.once('exit', r)));
        await driver.terminate(c.id).catch((e: { code?: string }) => assert.equal(e.code, 'ERR_NOT_FOUND'));
        assert.equal(existsSync(join(TEST_ROOT, driverName, c.id)), false, `state of ${c.id} (terminate killed after ${delay} ms)`);
        assert.deepEqual(leftoversOf(TEST_ROOT, c.id, rootfs.dir), []);
      }
    });

  });

  // events (issue 9, the events part): the state root's log, through driver.events()
  describe(`contract: ${driverName} driver: events`, () => {
    let driver: ManagedDriver;
    let rootfs: { dir: string; cleanup: () => void };
    before(() => {
      driver = createDriver(driverName, { root: TEST_ROOT });
      rootfs = makeRootfs();
    });
    after(() => rootfs.cleanup());
    const box = (script: string, over: Partial<Command> = {}): Command & { id: string } => ({
      id: uniqueId(`ev${driverName.slice(0, 2)}`),
      rootfs: rootfs.dir,
      network: { mode: 'none' },
      entrypoint: 'sh',
      arguments: ['-c', script],
      ...over,
    });

    it('create, start, die (exit code and signal), destroy, in order; since replays them', async () => {
      const since = new Date();
      const a = box('exit 3');
      const b = box('kill -KILL $$; sleep 5', { init: true });
      assert.equal((await driver.run(a)).exitCode, 3);
      assert.equal((await driver.run(b)).exitCode, 137);
      const seen: ContainerEvent[] = [];
      for await (const ev of driver.events({ since, until: Date.now() })) if (ev.id === a.id || ev.id === b.id) seen.push(ev);
      const of = (c: { id: string }) => seen.filter((e) => e.id === c.id);
      assert.deepEqual(of(a).map((e) => e.type), ['create', 'start', 'die', 'destroy']);
      assert.equal(of(a)[2]!.exitCode, 3);
      assert.deepEqual(of(b).map((e) => e.type), ['create', 'start', 'die', 'destroy']);
      assert.equal(of(b)[2]!.exitCode, 137);
    });

    it('an OOM kill of a child is an oom event while the container runs, and die follows its end', async () => {
      const ac = new AbortController();
      const events = driver.events({ signal: ac.signal });
      const c = box('dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 1000', {
        resources: { memory: 32 * 1024 * 1024, memorySwap: 32 * 1024 * 1024 },
      });
      await driver.start(c, { detach: true });
      const types: string[] = [];
      try {
        for await (const ev of events) {
          if (ev.id !== c.id) continue;
          types.push(ev.type);
          if (ev.type === 'oom') {
            assert.equal(driver.info(c.id).isRunning(), true, 'running when its oom arrives');
            await driver.kill(c.id, 'SIGKILL');
          }
          if (ev.type === 'die') break;
        }
      } finally {
        await driver.delete(c.id, { force: true });
      }
      assert.deepEqual(types, ['create', 'start', 'oom', 'die']);
    });
  });
}

async function listStateDirs(driverName: string): Promise<string[]> {
  try {
    return readdirSync(join(TEST_ROOT, driverName));
  } catch {
    return [];
  }
}


// ---- cli (issue 12): the Command fields of Docker's run flags, through the library
function dockerFieldsSuite(driverName: DriverName): void {
  describe(`contract: ${driverName} driver: Docker's run fields (tmpfs, ulimits, sysctl, devices, groupAdd, shmSize, labels, log bound)`, () => {
    let driver: ManagedDriver;
    let rootfs: { dir: string; cleanup: () => void };
    before(() => {
      driver = createDriver(driverName, { root: TEST_ROOT });
      rootfs = makeRootfs();
    });
    after(() => rootfs.cleanup());

    it('the fields are seen inside; the workdir is made for the user', async () => {
      const cap = capture();
      const c: Command = {
        id: uniqueId('cf'), rootfs: rootfs.dir, network: { mode: 'none' }, user: 'user', workingDir: '/made/here',
        entrypoint: 'sh',
        arguments: ['-c', 'ulimit -Sn; cat /proc/sys/kernel/msgmax; test -c /dev/fuse && echo fuse; grep " /t " /proc/mounts | cut -d" " -f3,4 | cut -d, -f1-4; grep " /dev/shm " /proc/mounts | grep -o "size=[0-9]*k"; id -G; pwd; stat -c %U .'],
        tmpfs: [{ destination: '/t', options: ['ro'] }],
        ulimits: [{ type: 'nofile', soft: 512, hard: 1024 }],
        sysctl: { 'kernel.msgmax': '4096' },
        devices: [{ path: '/dev/fuse' }],
        groupAdd: ['extra'],
        shmSize: 8 * 1024 * 1024,
        labels: { a: 'b' },
        stopSignal: 'SIGINT',
        stopTimeout: 3,
      };
      try {
        const status = await driver.run(c, cap.pipes);
        assert.equal(status.exitCode, 0, cap.err());
        assert.equal(cap.out(), '512\n4096\nfuse\ntmpfs ro,nosuid,nodev,noexec\nsize=8192k\n1000 2000\n/made/here\nuser\n');
      } finally {
        rmSync(join(rootfs.dir, 'made'), { recursive: true, force: true });
      }
    });

    it('bad fields are refused before anything exists', async () => {
      const base = { id: uniqueId('cf'), rootfs: rootfs.dir, entrypoint: 'true', network: { mode: 'none' as const } };
      const bad: [Partial<Command>, RegExp][] = [
        [{ sysctl: { 'kernel.foo': '1' } }, /sysctl kernel\.foo: is not namespaced/],
        [{ sysctl: { 'net.ipv4.ip_forward': '1' }, network: { mode: 'host' } }, /cannot be set with the host network/],
        [{ ulimits: [{ type: 'nofiles', soft: 1, hard: 1 }] }, /ulimits\[0\]\.type: unknown limit "nofiles"/],
        [{ devices: [{ path: '/nope' }] }, /devices\[0\]\.path: \/nope does not exist/],
        [{ tmpfs: [{ destination: '/x', options: ['exec;rm'] }] }, /unknown tmpfs option/],
        [{ stopSignal: 'SIGNOPE' }, /stopSignal: unknown signal/],
      ];
      for (const [over, re] of bad) {
        await assert.rejects(driver.run({ ...base, ...over }), (e: Error & { code?: string }) => e.code === 'ERR_INVALID_CONFIG' && re.test(e.message));
      }
      assert.equal(existsSync(join(TEST_ROOT, driverName, base.id)), false);
    });

    it('a detached container.log is bounded (log: { maxSize, maxFiles })', async () => {
      const c: Command = { id: uniqueId('cf'), rootfs: rootfs.dir, network: { mode: 'none' }, entrypoint: 'sh', arguments: ['-c', 'head -c 3000000 /dev/zero'] };
      await driver.start(c, { detach: true, log: { maxSize: 512 * 1024, maxFiles: 2 } });
      try {
        await driver.wait(c.id!);
        const dir = join(TEST_ROOT, driverName, c.id!);
        const files = readdirSync(dir).filter((f) => f.startsWith('container.log')).sort();
        assert.deepEqual(files, ['container.log', 'container.log.1']);
        for (const f of files) assert.ok(readFileSync(join(dir, f)).length <= 512 * 1024 + 65536);
      } finally {
        await driver.delete(c.id!, { force: true });
      }
    });
  });
}
