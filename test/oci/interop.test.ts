/**
 * Smoke sets through real engines: Docker (dockerd with `--add-runtime execdriver=bin/execdriver-oci`),
 * containerd (`ctr run --runc-binary`) and Podman (`--runtime`), each set against runc first and then
 * against execdriver-oci on the same daemon, so a difference is ours. A case that fails for runc on
 * this host is skipped for execdriver-oci with runc's reason. Every engine runs on state of its own
 * under a temp dir (data-root, exec-root, socket, pidfile, --root/--runroot, the runtimes' roots),
 * without iptables, and is stopped afterwards (also when a case failed). Docker's containers are on
 * a bridge of the test's own (edt-interop0); containerd's join, by path, a network namespace the
 * test made with a veth on edt-interop1; Podman runs with --network none. After each set: no
 * container, process, cgroup, mount, veth left; the runtime's state root empty.
 * The image is a tar of the busybox rootfs: `docker import` / `podman import`, and for containerd
 * an OCI image layout written here, through `ctr images import`.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeRootfs, sleep, until } from '../helpers.js';
import { EXECDRIVER_OCI, Pty, sh, type Result } from './harness.js';

const IMG = 'busybox:interop';
const BRIDGE = 'edt-interop0';
const SUBNET = '10.213.77';
const CGPARENT = 'edt-interop-engine';

type Outcome = { ok: true } | { ok: false; why: string } | { skipped: string };
const table = new Map<string, Map<string, Outcome>>();
const record = (col: string, row: string, o: Outcome) => {
  if (!table.has(row)) table.set(row, new Map());
  table.get(row)?.set(col, o);
};

interface Engine {
  name: string;
  /** the command line, with the engine's own global flags */
  run(args: string[], timeout?: number): Result;
  argv(args: string[]): string[];
  env: NodeJS.ProcessEnv;
  /** the runtime's --root for a runtime label, to check it is empty */
  runtimeRoot(label: string): string | undefined;
  /** what `run` takes to pick the runtime */
  runtimeFlag(label: string): string[];
  bridge: boolean;
  /** the runtime later calls use (Podman: a global flag) */
  use?(label: string): void;
  /** the host pid of container `n`'s process (0: none) */
  pidOf(n: string): number;
  /** remove container `n`, whatever its state */
  remove(n: string): void;
  /** the containers the engine still knows */
  containers(): string;
}
/** rm: the engine removes the case's container itself (`--rm`): nothing to look up or remove after a success */
type Case = { name: string; rm?: boolean; fn: (label: string, n: string) => Promise<void> };

const ok = (r: Result, what: string) => {
  if (r.status !== 0) throw new Error(`${what}: exit ${r.status ?? r.signal}: ${r.err.trim().replace(/\s+/g, ' ').slice(0, 300)}`);
  return r.out.trim();
};

/** the exit status, or an error with the engine's message when the engine itself failed (125) */
const status = (r: Result) => {
  if (r.status === 125 || r.status === null) throw new Error(`the engine failed: ${r.err.trim().replace(/\s+/g, ' ').slice(0, 300)}`);
  return r.status;
};

/** Resize the outer terminal and ask `stty size` until the shell inside shows the new size (engine → shim → pty). */
async function resizedTo(p: Pty, rows: number, cols: number): Promise<void> {
  const want = new RegExp(`${rows} ${cols}`);
  p.resize(rows, cols);
  for (let i = 0; i < 20 && !want.test(p.out); i++) {
    await sleep(250);
    p.type('stty size\n');
  }
  await p.expect(want);
}

/** The smoke set; `n` is a name unique to the case. */
function smoke(e: Engine): Case[] {
  const run = (label: string, args: string[], timeout?: number) => e.run(['run', ...e.runtimeFlag(label), ...(e.bridge ? [] : ['--network', 'none']), ...args], timeout);
  const detached = (label: string, n: string, args: string[], extra: string[] = []) => ok(run(label, ['-d', '--name', n, ...extra, IMG, ...args]), 'run -d');
  return [
    { name: 'run --rm echo hi', rm: true, fn: async (l) => assert.equal(ok(run(l, ['--rm', IMG, 'echo', 'hi']), 'run'), 'hi') },
    { name: 'exit code 3', rm: true, fn: async (l) => assert.equal(status(run(l, ['--rm', IMG, 'sh', '-c', 'exit 3'])), 3) },
    {
      name: '-m 32m: OOM kill, exit 137', rm: true,
      fn: async (l) => assert.equal(status(run(l, ['--rm', '-m', '32m', '--memory-swap', '32m', IMG, 'sh', '-c', 'tail /dev/zero'], 60_000)), 137),
    },
    {
      name: '-it with resize', rm: true,
      fn: async (l, n) => {
        const argv = e.argv(['run', '--rm', '--name', n, '-it', ...e.runtimeFlag(l), ...(e.bridge ? [] : ['--network', 'none']), IMG, 'sh']);
        const p = new Pty(24, 80, argv, e.env);
        try {
          await p.expect(/# /, 60_000); // the first prompt: the whole create and start (slow on a loaded machine)
          p.type('stty size\n');
          await p.expect(/24 80/);
          await resizedTo(p, 30, 100);
          p.type('exit 5\n');
          assert.equal(await p.code(), 5);
        } finally {
          p.kill();
        }
      },
    },
    {
      name: '-d, then exec',
      fn: async (l, n) => {
        detached(l, n, ['sleep', '600']);
        assert.equal(ok(e.run(['exec', n, 'echo', 'hi']), 'exec'), 'hi');
        assert.equal(ok(e.run(['exec', '-u', '1000', n, 'id', '-u']), 'exec -u'), '1000');
      },
    },
    {
      // the engine's shim (conmon) runs `exec --detach --tty --console-socket` and holds the master
      name: 'exec -it with resize',
      fn: async (l, n) => {
        detached(l, n, ['sleep', '600']);
        const p = new Pty(24, 80, e.argv(['exec', '-it', n, 'sh']), e.env);
        try {
          await p.expect(/# /, 30_000);
          p.type('tty; stty size\n');
          await p.expect(/\/dev\/pts\/\d+\s+24 80/);
          await resizedTo(p, 30, 100);
          p.type('exit 5\n');
          assert.equal(await p.code(), 5);
        } finally {
          p.kill();
        }
      },
    },
    {
      name: 'stop: TERM',
      fn: async (l, n) => {
        detached(l, n, ['sh', '-c', 'trap "exit 7" TERM; while :; do sleep 0.1; done']);
        // the trap is set once the loop runs
        await until(() => /sleep 0\.1/.test(e.run(['top', n]).out), 10_000, 'the loop to run');
        ok(e.run(['stop', '-t', '10', n]), 'stop');
        assert.equal(ok(e.run(['inspect', '-f', '{{.State.ExitCode}}', n]), 'inspect'), '7');
      },
    },
    {
      name: 'stop: KILL after the timeout',
      fn: async (l, n) => {
        detached(l, n, ['sleep', '600']);
        const t0 = Date.now();
        ok(e.run(['stop', '-t', '1', n]), 'stop');
        assert.ok(Date.now() - t0 >= 900, 'stopped before the timeout');
        assert.equal(ok(e.run(['inspect', '-f', '{{.State.ExitCode}}', n]), 'inspect'), '137');
      },
    },
    {
      name: 'pause, unpause',
      fn: async (l, n) => {
        detached(l, n, ['sleep', '600']);
        ok(e.run(['pause', n]), 'pause');
        assert.equal(ok(e.run(['inspect', '-f', '{{.State.Status}}', n]), 'inspect'), 'paused');
        ok(e.run(['unpause', n]), 'unpause');
        assert.equal(ok(e.run(['exec', n, 'echo', 'back']), 'exec'), 'back');
      },
    },
    {
      name: 'stats --no-stream',
      fn: async (l, n) => {
        detached(l, n, ['sleep', '600']);
        const o = ok(e.run(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', n], 30_000), 'stats');
        assert.match(o, new RegExp(`${n} [1-9][\\d.]*[kKMG]i?B / .* 1$`), o);
      },
    },
    {
      name: 'top',
      fn: async (l, n) => {
        detached(l, n, ['sleep', '600']);
        assert.match(ok(e.run(['top', n]), 'top'), /sleep 600/);
      },
    },
    ...(e.bridge
      ? [
          {
            name: '--network bridge (the engine\'s netns joined by path)', rm: true,
            fn: async (l: string) => {
              const o = ok(run(l, ['--rm', '--network', 'bridge', IMG, 'sh', '-c', `ip -4 addr show eth0 && ping -c1 -W2 ${SUBNET}.1`]), 'run');
              assert.match(o, new RegExp(`inet ${SUBNET.replace(/\./g, '\\.')}\\.\\d+`));
            },
          },
        ]
      : []),
    {
      name: '--network container:X',
      fn: async (l, n) => {
        detached(l, n, ['sleep', '600'], e.bridge ? ['--network', 'bridge'] : []);
        const a = ok(e.run(['exec', n, 'readlink', '/proc/self/ns/net']), 'exec');
        const b = ok(e.run(['run', ...e.runtimeFlag(l), '--rm', '--network', `container:${n}`, IMG, 'readlink', '/proc/self/ns/net']), 'run');
        assert.equal(b, a);
      },
    },
    {
      name: '-v', rm: true,
      fn: async (l, n) => {
        const host = join(scratch, `vol-${n}`);
        mkdirSync(host);
        ok(run(l, ['--rm', '-v', `${host}:/data`, IMG, 'sh', '-c', 'echo w > /data/f']), 'run');
        assert.equal(readFileSync(join(host, 'f'), 'utf8'), 'w\n');
      },
    },
    {
      name: '--read-only', rm: true,
      fn: async (l) => {
        const r = run(l, ['--rm', '--read-only', IMG, 'touch', '/x']);
        assert.equal(status(r), 1);
        assert.match(r.err + r.out, /Read-only file system/);
      },
    },
    { name: '--user 1000:1000', rm: true, fn: async (l) => assert.equal(ok(run(l, ['--rm', '--user', '1000:1000', IMG, 'sh', '-c', 'echo $(id -u) $(id -g)']), 'run'), '1000 1000') },
  ];
}

let scratch = '';
let rootfs: { dir: string; cleanup: () => void } | undefined;
const oursMissing = existsSync(EXECDRIVER_OCI) ? undefined : 'bin/execdriver-oci does not exist yet';

/** every cgroup dir named `name` directly under a controller or under CGPARENT */
const cgroupsUnder = (parent: string) =>
  readdirSync('/sys/fs/cgroup').flatMap((c) => {
    const d = join('/sys/fs/cgroup', c, parent);
    // Podman's own `conmon` cgroup (cgroupfs manager) stays by design; the containers' must go
    return existsSync(d) ? readdirSync(d, { withFileTypes: true }).filter((x) => x.isDirectory() && x.name !== 'conmon').map((x) => join(d, x.name)) : [];
  });
const mountsUnder = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4]?.startsWith(dir));
/** the interfaces plugged into a bridge (none when it does not exist) */
const vethsOf = (bridge: string) =>
  spawnSync('ip', ['-o', 'link', 'show', 'master', bridge], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map((l) => l.split(':')[1]?.trim() ?? l);
const alive = (pid: number) => {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

function smokeSuite(engineName: string, cases: (e: Engine) => Case[], available: () => string | undefined, start: () => Promise<Engine>, stop: () => Promise<void>): void {
  describe(`${engineName} smoke set: runc, then execdriver-oci`, { concurrency: false }, () => {
    let e: Engine | undefined;
    let why = available();
    before(async () => {
      if (why) return;
      scratch ||= mkdtempSync('/tmp/edt-interop-e');
      rootfs ??= makeRootfs();
      try {
        e = await start();
      } catch (err) {
        why = `${engineName} did not start: ${(err as Error).message}`;
      }
    });
    after(async () => {
      await stop();
    });
    const labels = ['runc', 'execdriver-oci'];
    // the set's names, known before the engine starts
    const names = cases({ name: engineName, bridge: engineName === 'docker' } as Engine).map((c) => c.name);
    const pids: number[] = [];
    let seq = 0;
    for (const label of labels) {
      for (const name of names) {
        it(`${label}: ${name}`, { timeout: 240_000 }, async (t) => {
          const row = `${engineName}: ${name}`;
          if (why || !e) return (record(label, row, { skipped: why ?? 'no engine' }), t.skip(why));
          if (label === 'execdriver-oci' && oursMissing) return (record(label, row, { skipped: oursMissing }), t.skip(oursMissing));
          const c = cases(e).find((x) => x.name === name);
          const n = `interop-${engineName[0]}${process.pid.toString(36)}-${(seq++).toString(36)}`;
          let err: unknown;
          e.use?.(label);
          try {
            await c?.fn(label, n);
          } catch (x) {
            err = x;
          } finally {
            if (err !== undefined || !c?.rm) {
              const pid = e.pidOf(n);
              if (pid > 0) pids.push(pid);
              e.remove(n);
            }
          }
          const message = err instanceof assert.AssertionError && err.operator === 'strictEqual' ? `expected ${JSON.stringify(err.expected)}, got ${JSON.stringify(err.actual)}` : err instanceof Error ? err.message.split('\n')[0] ?? '' : '';
          record(label, row, err === undefined ? { ok: true } : { ok: false, why: message.slice(0, 240) });
          if (err === undefined) return;
          if (label === 'runc') return t.skip(`runc fails it here: ${message}`);
          const ref = table.get(row)?.get('runc');
          if (!ref || !('ok' in ref) || !ref.ok) return t.skip(`runc fails it too: ${message}`);
          throw err;
        });
      }
      it(`${label}: no leak after the set (containers, processes, cgroups, mounts, runtime state)`, async (t) => {
        if (why || !e) return t.skip(why);
        if (label === 'execdriver-oci' && oursMissing) return t.skip(oursMissing);
        try {
          assert.equal(e.containers(), '', 'containers left');
          await until(() => !pids.some(alive), 10_000, 'the containers\' processes to go').catch(() => undefined);
          assert.deepEqual(pids.filter(alive), [], 'container processes left');
          await until(() => cgroupsUnder(CGPARENT).length === 0, 5000, 'the containers\' cgroups to go').catch(() => undefined);
          assert.deepEqual(cgroupsUnder(CGPARENT), [], 'cgroups left');
          const root = e.runtimeRoot(label);
          if (root && existsSync(root)) assert.deepEqual(readdirSync(root), [], `${root} not empty`);
          const containerMounts = mountsUnder(scratch).filter((l) => /\/containers\/|\/overlay-containers\//.test(l));
          assert.deepEqual(containerMounts, [], 'container mounts left');
          assert.deepEqual(vethsOf(BRIDGE), [], `veths left on ${BRIDGE}`);
        } finally {
          // a leak fails this set, not the next one: what is left goes now
          for (const p of pids.filter(alive)) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
          pids.length = 0;
          for (const d of cgroupsUnder(CGPARENT)) {
            for (const p of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ }
          }
          await until(() => { sweepCgroups(true); return cgroupsUnder(CGPARENT).length === 0; }, 5000, 'leftover cgroups to go').catch(() => undefined);
        }
      });
    }
  });
}

/** the engines' parent cgroup and what is left under it (Podman's conmon cgroup); keepParent: only what is under it */
function sweepCgroups(keepParent = false): void {
  for (const c of readdirSync('/sys/fs/cgroup')) {
    const d = join('/sys/fs/cgroup', c, CGPARENT);
    if (!existsSync(d)) continue;
    for (const x of readdirSync(d, { withFileTypes: true })) {
      if (!x.isDirectory()) continue;
      try {
        rmdirSync(join(d, x.name));
      } catch {
        /* busy */
      }
    }
    try {
      if (!keepParent) rmdirSync(d);
    } catch {
      /* busy */
    }
  }
}

// ------------------------------------------------------------------ Docker
let dockerd: ChildProcess | undefined;
let dockerDir = '';
const DOCKERD = '/usr/sbin/dockerd';
const DOCKER = '/usr/bin/docker';
function ipq(args: string[]) {
  return spawnSync('ip', args, { encoding: 'utf8' });
}
smokeSuite(
  'docker',
  smoke,
  () => (existsSync(DOCKERD) && existsSync(DOCKER) ? undefined : 'docker.io is not installed'),
  async () => {
    dockerDir = join(scratch, 'd');
    mkdirSync(dockerDir);
    if (ipq(['route', 'show', `${SUBNET}.0/24`]).stdout.trim() || ipq(['-4', 'addr']).stdout.includes(`${SUBNET}.`)) throw new Error(`${SUBNET}.0/24 is in use on this host`);
    if (ipq(['link', 'show', BRIDGE]).status !== 0) {
      ipq(['link', 'add', BRIDGE, 'type', 'bridge']);
      ipq(['addr', 'add', `${SUBNET}.1/24`, 'dev', BRIDGE]);
      ipq(['link', 'set', BRIDGE, 'up']);
    }
    writeFileSync(join(dockerDir, 'daemon.json'), '{}');
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${dockerDir}/sock` };
    delete env['NODE_EXTRA_CA_CERTS'];
    const log = join(dockerDir, 'dockerd.log');
    dockerd = spawn(
      DOCKERD,
      [
        '--data-root', join(dockerDir, 'data'), '--exec-root', join(dockerDir, 'x'), '--pidfile', join(dockerDir, 'pid'),
        '-H', `unix://${dockerDir}/sock`, '--config-file', join(dockerDir, 'daemon.json'),
        '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false', '--userland-proxy=false',
        '--bridge', BRIDGE, '--storage-driver', 'vfs', '--cgroup-parent', `/${CGPARENT}`,
        '--containerd-namespace', 'edt-interop', '--containerd-plugins-namespace', 'edt-interop-p',
        '--add-runtime', `execdriver=${EXECDRIVER_OCI}`,
      ],
      { stdio: ['ignore', 'ignore', 'ignore'], env, detached: false },
    );
    void log;
    const docker: Engine = {
      name: 'docker',
      env,
      bridge: true,
      argv: (a) => [DOCKER, ...a],
      run: (a, timeout) => sh(DOCKER, a, { env, ...(timeout ? { timeout } : {}) }),
      runtimeFlag: (l) => ['--runtime', l === 'runc' ? 'runc' : 'execdriver'],
      // Docker 20.10 gives every runtime the same --root (runtime-runc); ours keeps its containers under native/
      runtimeRoot: (l) => join(dockerDir, 'x', 'runtime-runc', 'edt-interop', ...(l === 'runc' ? [] : ['native'])),
      pidOf: (n) => Number(sh(DOCKER, ['inspect', '-f', '{{.State.Pid}}', n], { env }).out.trim()) || 0,
      remove: (n) => void sh(DOCKER, ['rm', '-f', n], { env, timeout: 90_000 }),
      containers: () => sh(DOCKER, ['ps', '-aq'], { env }).out.trim(),
    };
    await until(() => docker.run(['version']).status === 0, 40_000, 'dockerd to answer');
    const tar = spawnSync('tar', ['-C', rootfs?.dir ?? '', '-c', '.'], { maxBuffer: 1 << 28 });
    const imp = spawnSync(DOCKER, ['import', '-', IMG], { input: tar.stdout, env, encoding: 'utf8' });
    if (imp.status !== 0) throw new Error(`docker import: ${imp.stderr}`);
    return docker;
  },
  async () => {
    if (dockerd && dockerd.exitCode === null) {
      const gone = new Promise((r) => dockerd?.on('exit', r));
      dockerd.kill('SIGTERM');
      await Promise.race([gone, sleep(30_000)]);
      if (dockerd.exitCode === null) dockerd.kill('SIGKILL');
    }
    dockerd = undefined;
    if (dockerDir) {
      for (const l of mountsUnder(dockerDir).reverse()) spawnSync('umount', ['-l', l.split(' ')[4] ?? '']);
      rmSync(dockerDir, { recursive: true, force: true });
    }
    if (ipq(['link', 'show', BRIDGE]).status === 0) ipq(['link', 'del', BRIDGE]);
    sweepCgroups();
  },
);

// ------------------------------------------------------------------ Podman
let podmanDir = '';
const PODMAN = '/usr/bin/podman';
smokeSuite(
  'podman',
  smoke,
  () => (existsSync(PODMAN) ? undefined : 'podman is not installed'),
  async () => {
    podmanDir = join(scratch, 'p');
    for (const d of ['root', 'run', 'tmp', 'net']) mkdirSync(join(podmanDir, d), { recursive: true });
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env['NODE_EXTRA_CA_CERTS'];
    let runtime = '/usr/sbin/runc';
    const globals = () => [
      '--root', join(podmanDir, 'root'), '--runroot', join(podmanDir, 'run'), '--tmpdir', join(podmanDir, 'tmp'),
      '--network-config-dir', join(podmanDir, 'net'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'file',
      '--storage-driver', 'vfs', '--runtime', runtime,
    ];
    const podman: Engine = {
      name: 'podman',
      env,
      bridge: false,
      use: (l) => (runtime = l === 'runc' ? '/usr/sbin/runc' : EXECDRIVER_OCI),
      argv: (a) => [PODMAN, ...globals(), ...a],
      run: (a, timeout) => sh(PODMAN, [...globals(), ...a], { env, ...(timeout ? { timeout } : {}) }),
      // explicit rlimits no higher than the host's: Podman would raise RLIMIT_NOFILE, which root without CAP_SYS_RESOURCE cannot here
      runtimeFlag: () => ['--cgroup-parent', `/${CGPARENT}`, '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'],
      runtimeRoot: (l) => join(podmanDir, 'run', l === 'runc' ? 'runc' : 'execdriver-oci'),
      pidOf: (n) => Number(sh(PODMAN, [...globals(), 'inspect', '-f', '{{.State.Pid}}', n], { env }).out.trim()) || 0,
      remove: (n) => void sh(PODMAN, [...globals(), 'rm', '-f', n], { env, timeout: 90_000 }),
      containers: () => sh(PODMAN, [...globals(), 'ps', '-aq'], { env }).out.trim(),
    };
    const tar = spawnSync('tar', ['-C', rootfs?.dir ?? '', '-c', '.'], { maxBuffer: 1 << 28 });
    const imp = spawnSync(PODMAN, [...globals(), 'import', '-', IMG], { input: tar.stdout, env, encoding: 'utf8' });
    if (imp.status !== 0) throw new Error(`podman import: ${imp.stderr}`);
    return podman;
  },
  async () => {
    if (!podmanDir) return;
    const g = ['--root', join(podmanDir, 'root'), '--runroot', join(podmanDir, 'run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
    spawnSync(PODMAN, [...g, 'rm', '-af'], { stdio: 'ignore', timeout: 60_000 });
    for (const l of mountsUnder(podmanDir).reverse()) spawnSync('umount', ['-l', l.split(' ')[4] ?? '']);
    spawnSync('chattr', ['-R', '-i', podmanDir], { stdio: 'ignore' });
    rmSync(podmanDir, { recursive: true, force: true });
    sweepCgroups();
  },
);

// ------------------------------------------------------------------ containerd
const CONTAINERD = '/usr/bin/containerd';
const CTR = '/usr/bin/ctr';
const CTR_NS = 'edt-interop';
const CTR_IMG = 'docker.io/library/busybox:interop';
const CTR_BRIDGE = 'edt-interop1';
const CTR_SUBNET = '10.213.78';
const CTR_NETNS = 'edt-interop-c';
let containerd: ChildProcess | undefined;
let ctrDir = '';

/** An OCI image layout of the busybox rootfs (one uncompressed layer), as a tar for `ctr images import`. */
function ociImageTar(rootfsDir: string, dir: string): string {
  const layout = join(dir, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const blob = (data: Buffer, mediaType: string) => {
    const digest = createHash('sha256').update(data).digest('hex');
    writeFileSync(join(blobs, digest), data);
    return { mediaType, digest: `sha256:${digest}`, size: data.length };
  };
  const layerTar = spawnSync('tar', ['-C', rootfsDir, '--numeric-owner', '-c', '.'], { maxBuffer: 1 << 28 });
  if (layerTar.status !== 0) throw new Error(`tar of the rootfs: ${layerTar.stderr.toString()}`);
  const layer = blob(layerTar.stdout, 'application/vnd.oci.image.layer.v1.tar');
  const config = blob(
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin'], Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [layer.digest] } })),
    'application/vnd.oci.image.config.v1+json',
  );
  const manifest = blob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] })), 'application/vnd.oci.image.manifest.v1+json');
  const index = { schemaVersion: 2, manifests: [{ ...manifest, platform: { architecture: 'amd64', os: 'linux' }, annotations: { 'io.containerd.image.name': CTR_IMG, 'org.opencontainers.image.ref.name': 'interop' } }] };
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const tar = join(dir, 'image.tar');
  const t = spawnSync('tar', ['-C', layout, '-cf', tar, '.']);
  if (t.status !== 0) throw new Error(`tar of the image layout: ${t.stderr.toString()}`);
  rmSync(layout, { recursive: true, force: true });
  return tar;
}

/** The smoke set as ctr has it (no `stop` with a timeout: `task kill` TERM, then KILL; no --user on run: exec --user). */
function ctrSmoke(e: Engine): Case[] {
  const run = (l: string, n: string, flags: string[], args: string[], timeout?: number) =>
    e.run(['run', ...e.runtimeFlag(l), '--cgroup', `/${CGPARENT}/${n}`, ...flags, CTR_IMG, n, ...args], timeout);
  const detached = (l: string, n: string, args: string[], flags: string[] = []) => {
    ok(run(l, n, ['-d', ...flags], args), 'run -d');
    return e.pidOf(n);
  };
  const taskStatus = (n: string) => e.run(['task', 'ls']).out.split('\n').find((x) => x.split(/\s+/)[0] === n)?.split(/\s+/)[2] ?? '';
  /** `ctr run --rm` in the foreground, in the background here: its exit status is the task's */
  const foreground = (l: string, n: string, args: string[]) => {
    const [file, ...rest] = e.argv(['run', ...e.runtimeFlag(l), '--cgroup', `/${CGPARENT}/${n}`, '--rm', CTR_IMG, n, ...args]);
    const p = spawn(file ?? CTR, rest, { stdio: 'ignore', env: e.env });
    const code = new Promise<number>((resolve) => p.on('exit', (c, sig) => resolve(c ?? (sig ? -1 : -2))));
    return { code: Promise.race([code, sleep(30_000).then(() => (p.kill('SIGKILL'), -3))]) };
  };
  const execId = (() => {
    let i = 0;
    return () => `x${i++}`;
  })();
  // args: [flags…, container, command…]
  const exec = (_n: string, args: string[]) => e.run(['task', 'exec', '--fifo-dir', join(ctrDir, 'fifo'), '--exec-id', execId(), ...args]);
  return [
    { name: 'run --rm echo hi', rm: true, fn: async (l, n) => assert.equal(ok(run(l, n, ['--rm'], ['echo', 'hi']), 'run'), 'hi') },
    { name: 'exit code 3', rm: true, fn: async (l, n) => assert.equal(run(l, n, ['--rm'], ['sh', '-c', 'exit 3']).status, 3) },
    {
      name: '--memory-limit 32m: OOM kill, exit 137', rm: true,
      fn: async (l, n) => assert.equal(run(l, n, ['--rm', '--memory-limit', String(32 << 20)], ['sh', '-c', 'tail /dev/zero'], 60_000).status, 137),
    },
    {
      name: '-t with resize', rm: true,
      fn: async (l, n) => {
        const p = new Pty(24, 80, e.argv(['run', ...e.runtimeFlag(l), '--cgroup', `/${CGPARENT}/${n}`, '--rm', '-t', CTR_IMG, n, 'sh']), e.env);
        try {
          await p.expect(/# /, 60_000);
          p.type('stty size\n');
          await p.expect(/24 80/);
          p.resize(30, 100);
          // ctr relays the size on SIGWINCH: poll until the container's terminal has it
          await until(async () => {
            p.type('stty size\n');
            await sleep(100);
            return /30 100/.test(p.out);
          }, 10_000, 'the new size');
          p.type('exit 5\n');
          assert.equal(await p.code(), 5);
        } finally {
          p.kill();
        }
      },
    },
    {
      name: '-d, then task exec (and exec --user 1000)',
      fn: async (l, n) => {
        detached(l, n, ['sleep', '600']);
        assert.equal(ok(exec(n, [n, 'echo', 'hi']), 'exec'), 'hi');
        assert.equal(ok(exec(n, ['--user', '1000', n, 'id', '-u']), 'exec --user'), '1000');
      },
    },
    {
      name: 'task kill: TERM', rm: true,
      fn: async (l, n) => {
        const fg = foreground(l, n, ['sh', '-c', 'trap "exit 7" TERM; while :; do sleep 0.1; done']);
        // the trap is set once the loop runs
        await until(() => e.run(['task', 'ps', n]).out.trim().split('\n').length >= 3, 15_000, 'the loop to run');
        ok(e.run(['task', 'kill', '-s', 'TERM', n]), 'kill');
        assert.equal(await fg.code, 7);
      },
    },
    {
      name: 'task kill: KILL', rm: true,
      fn: async (l, n) => {
        const fg = foreground(l, n, ['sleep', '600']);
        await until(() => taskStatus(n) === 'RUNNING', 15_000, 'the task to run');
        ok(e.run(['task', 'kill', '-s', 'KILL', n]), 'kill');
        assert.equal(await fg.code, 137);
      },
    },
    {
      name: 'task pause, resume',
      fn: async (l, n) => {
        detached(l, n, ['sleep', '600']);
        ok(e.run(['task', 'pause', n]), 'pause');
        assert.equal(taskStatus(n), 'PAUSED');
        ok(e.run(['task', 'resume', n]), 'resume');
        assert.equal(taskStatus(n), 'RUNNING');
        assert.equal(ok(exec(n, [n, 'echo', 'back']), 'exec'), 'back');
      },
    },
    {
      name: 'task metrics',
      fn: async (l, n) => {
        detached(l, n, ['sleep', '600']);
        const o = ok(e.run(['task', 'metrics', n]), 'metrics');
        assert.match(o, /memory\.usage_in_bytes\s+[1-9]\d*/, o);
        assert.match(o, /pids\.current\s+1\b/, o);
      },
    },
    {
      name: 'task ps',
      fn: async (l, n) => {
        const pid = detached(l, n, ['sleep', '600']);
        assert.match(ok(e.run(['task', 'ps', n]), 'ps'), new RegExp(`^${pid}\\b`, 'm'));
      },
    },
    {
      name: '--with-ns network:PATH (a netns with a veth on a bridge, joined by path)', rm: true,
      fn: async (l, n) => {
        const o = ok(run(l, n, ['--rm', '--with-ns', `network:/run/netns/${CTR_NETNS}`], ['sh', '-c', `ip -4 addr show eth0 && ping -c1 -W2 ${CTR_SUBNET}.1`]), 'run');
        assert.match(o, new RegExp(`inet ${CTR_SUBNET.replace(/\./g, '\\.')}\\.2`));
      },
    },
    {
      name: '--with-ns network:/proc/PID/ns/net (another container\'s)',
      fn: async (l, n) => {
        const pid = detached(l, n, ['sleep', '600']);
        const a = ok(exec(n, [n, 'readlink', '/proc/self/ns/net']), 'exec');
        const b = ok(run(l, `${n}b`, ['--rm', '--with-ns', `network:/proc/${pid}/ns/net`], ['readlink', '/proc/self/ns/net']), 'run');
        assert.equal(b, a);
      },
    },
    {
      name: '--mount type=bind (-v)', rm: true,
      fn: async (l, n) => {
        const host = join(scratch, `vol-${n}`);
        mkdirSync(host);
        ok(run(l, n, ['--rm', '--mount', `type=bind,src=${host},dst=/data,options=rbind:rw`], ['sh', '-c', 'echo w > /data/f']), 'run');
        assert.equal(readFileSync(join(host, 'f'), 'utf8'), 'w\n');
      },
    },
    {
      name: '--read-only', rm: true,
      fn: async (l, n) => {
        const r = run(l, n, ['--rm', '--read-only'], ['touch', '/x']);
        assert.equal(r.status, 1);
        assert.match(r.err + r.out, /Read-only file system/);
      },
    },
  ];
}

smokeSuite(
  'containerd',
  ctrSmoke,
  () => (existsSync(CONTAINERD) && existsSync(CTR) ? undefined : 'containerd is not installed'),
  async () => {
    ctrDir = join(scratch, 'c');
    for (const d of ['root', 'state', 'opt', 'fifo', 'runc-runc', 'runc-ours']) mkdirSync(join(ctrDir, d), { recursive: true });
    // a network namespace of the test's own, with a veth on a bridge of its own (what a CNI plugin would make)
    if (ipq(['-4', 'addr']).stdout.includes(`${CTR_SUBNET}.`)) throw new Error(`${CTR_SUBNET}.0/24 is in use on this host`);
    const steps = [
      ['link', 'add', CTR_BRIDGE, 'type', 'bridge'], ['addr', 'add', `${CTR_SUBNET}.1/24`, 'dev', CTR_BRIDGE], ['link', 'set', CTR_BRIDGE, 'up'],
      ['netns', 'add', CTR_NETNS], ['link', 'add', 'edt-interop1h', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', CTR_NETNS],
      ['link', 'set', 'edt-interop1h', 'master', CTR_BRIDGE, 'up'], ['-n', CTR_NETNS, 'addr', 'add', `${CTR_SUBNET}.2/24`, 'dev', 'eth0'],
      ['-n', CTR_NETNS, 'link', 'set', 'eth0', 'up'], ['-n', CTR_NETNS, 'link', 'set', 'lo', 'up'],
    ];
    for (const a of steps) {
      const r = ipq(a);
      if (r.status !== 0) throw new Error(`ip ${a.join(' ')}: ${r.stderr.trim()}`);
    }
    const sock = join(ctrDir, 'containerd.sock');
    writeFileSync(
      join(ctrDir, 'config.toml'),
      [
        'version = 2',
        `root = "${join(ctrDir, 'root')}"`,
        `state = "${join(ctrDir, 'state')}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]',
        '[grpc]',
        `  address = "${sock}"`,
        '[ttrpc]',
        `  address = "${sock}.ttrpc"`,
        '[debug]',
        '  address = ""',
        '[metrics]',
        '  address = ""',
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${join(ctrDir, 'opt')}"`,
        '',
      ].join('\n'),
    );
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env['NODE_EXTRA_CA_CERTS'];
    containerd = spawn(CONTAINERD, ['--config', join(ctrDir, 'config.toml'), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'ignore'], env });
    const globals = ['--address', sock, '--namespace', CTR_NS];
    const ctr: Engine = {
      name: 'containerd',
      env,
      bridge: false,
      argv: (a) => [CTR, ...globals, ...a],
      run: (a, timeout) => sh(CTR, [...globals, ...a], { env, ...(timeout ? { timeout } : {}) }),
      runtimeFlag: (l) => [
        '--runc-binary', l === 'runc' ? '/usr/sbin/runc' : EXECDRIVER_OCI, '--runc-root', join(ctrDir, l === 'runc' ? 'runc-runc' : 'runc-ours'),
        '--snapshotter', 'native', '--fifo-dir', join(ctrDir, 'fifo'),
      ],
      runtimeRoot: (l) => join(ctrDir, l === 'runc' ? 'runc-runc' : 'runc-ours', CTR_NS),
      pidOf: (n) => Number(sh(CTR, [...globals, 'task', 'ls'], { env }).out.split('\n').find((x) => x.split(/\s+/)[0] === n)?.split(/\s+/)[1] ?? 0) || 0,
      remove: (n) => {
        for (const c of [n, `${n}b`]) {
          sh(CTR, [...globals, 'task', 'delete', '--force', c], { env, timeout: 90_000 });
          sh(CTR, [...globals, 'container', 'delete', c], { env });
        }
      },
      containers: () => sh(CTR, [...globals, 'container', 'ls', '-q'], { env }).out.trim(),
    };
    await until(() => ctr.run(['version']).status === 0, 30_000, 'containerd to answer');
    const tar = ociImageTar(rootfs?.dir ?? '', ctrDir);
    ok(ctr.run(['images', 'import', '--snapshotter', 'native', tar], 60_000), 'ctr images import');
    rmSync(tar, { force: true });
    return ctr;
  },
  async () => {
    if (containerd && containerd.exitCode === null) {
      const gone = new Promise((r) => containerd?.on('exit', r));
      containerd.kill('SIGTERM');
      await Promise.race([gone, sleep(20_000)]);
      if (containerd.exitCode === null) containerd.kill('SIGKILL');
    }
    containerd = undefined;
    if (ctrDir) {
      for (const l of mountsUnder(ctrDir).reverse()) spawnSync('umount', ['-l', l.split(' ')[4] ?? '']);
      rmSync(ctrDir, { recursive: true, force: true });
    }
    // ctr and the shims make these whatever the flags say; empty ones go (rmdir only removes empty dirs)
    for (const d of ['/run/containerd/fifo', '/run/containerd/s', '/run/containerd']) try { rmdirSync(d); } catch { /* in use, or not there */ }
    if (ipq(['netns', 'list']).stdout.split('\n').some((l) => l.split(' ')[0] === CTR_NETNS)) ipq(['netns', 'del', CTR_NETNS]);
    if (ipq(['link', 'show', CTR_BRIDGE]).status === 0) ipq(['link', 'del', CTR_BRIDGE]);
    sweepCgroups();
  },
);

after(() => {
  const cols = ['runc', 'execdriver-oci'];
  const cell = (o: Outcome | undefined) => (!o ? '–' : 'skipped' in o ? 'n/a' : o.ok ? 'pass' : 'FAIL');
  const lines = [`| engine: case | ${cols.join(' | ')} |`, '|---|---|---|', ...[...table.entries()].map(([row, m]) => `| ${row} | ${cols.map((c) => cell(m.get(c))).join(' | ')} |`)];
  for (const [row, m] of table) for (const c of cols) { const o = m.get(c); if (o && 'ok' in o && !o.ok) lines.push(`- ${c}, ${row}: ${o.why}`); }
  const text = lines.join('\n') + '\n';
  writeFileSync(process.env['OCI_INTEROP_TABLE'] ?? '/tmp/execdriver-oci-interop.md', text);
  process.stdout.write(`\n${text}`);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  rootfs?.cleanup();
  void alive;
});
