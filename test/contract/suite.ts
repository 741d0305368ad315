/**
 * The contract suite: the same behaviours, checked by real containers, for every driver.
 * A driver's test file calls `contractSuite(name)`; where a driver truly cannot do something,
 * `skips` names the case and says why (the README's table shows the same).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDriver, type Command, type ContainerEvent, type DriverName, type ManagedDriver } from '../../src/index.js';
import { MASKED_PATHS, READONLY_PATHS } from '../../src/restrictions.js';
import { capture, makeRootfs, sleep, TEST_ROOT, uniqueId, until } from '../helpers.js';

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
          sh(`cat /to-tmp-${tag}/evil-${tag} /tmp/evil-${tag}`, { mounts: [{ source: file, destination: `/to-tmp-${tag}/evil-${tag}`, writable: false }] }),
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
      const c = sh('trap "exit 42" TERM; touch /tmp/$HOSTNAME.trap; while :; do sleep 1; done');
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

