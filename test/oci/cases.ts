/**
 * OCI runtime conformance cases, written from the text of the OCI runtime spec (runtime.md: the
 * lifecycle, its states and errors; config.md / config-linux.md: each field's effect as seen from
 * inside the container) and from runc's command line as engines call it. Each case throws when the
 * runtime does not do what the spec says. Run by conformance.test.ts against runc, crun and
 * execdriver-oci; bench-free and engine-free.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, readFileSync, readlinkSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, until } from '../helpers.js';
import { cgroupDir, consoleReceiver, makeBundle, scratchDir, type Config, type Oci, type Result } from './harness.js';

export interface Ctx {
  oci: Oci;
  /** a fresh container id (deleted --force after the case) */
  id(): string;
  /** the default config running `args`, with a cgroupsPath of the case's own */
  config(args: string[], id: string): Config;
  /** processes to SIGKILL after the case */
  holders: number[];
  /** init pids seen (checked gone after the runtime's cases) */
  pids: number[];
}

export interface Case {
  section: 'lifecycle' | 'command line' | 'config' | 'bad bundle';
  name: string;
  run(c: Ctx): Promise<void>;
}

const alive = (pid: number) => {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(st);
  } catch {
    return false;
  }
};

/** `run --bundle B ID` of a config made by `edit`; its result (the container must be gone after). */
async function runWith(c: Ctx, args: string[], edit: (cfg: Config, bundle: string) => void = () => undefined): Promise<Result> {
  const id = c.id();
  const cfg = c.config(args, id);
  const bundle = makeBundle(undefined);
  edit(cfg, bundle);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(cfg));
  const r = c.oci.cmd(['run', '--bundle', bundle, id]);
  assert.ok(!c.oci.entries().includes(id), `run left ${id} in the state root`);
  return r;
}

/** run, expecting exit 0; its stdout, trimmed */
async function out(c: Ctx, args: string[], edit?: (cfg: Config, bundle: string) => void): Promise<string> {
  const r = await runWith(c, args, edit);
  assert.equal(r.status, 0, `exit ${r.status ?? r.signal}: ${r.err.trim().slice(0, 300)} ${r.out.slice(0, 200)}`);
  return r.out.trim();
}

/** create (+ start) a container running `args`; its id and bundle */
function created(c: Ctx, args: string[], edit: (cfg: Config, bundle: string) => void = () => undefined, extra: string[] = []): { id: string; bundle: string } {
  const id = c.id();
  const cfg = c.config(args, id);
  const bundle = makeBundle(undefined);
  edit(cfg, bundle);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(cfg));
  c.oci.ok(['create', '--bundle', bundle, ...extra, id]);
  c.pids.push(c.oci.state(id).pid);
  return { id, bundle };
}
function started(c: Ctx, args: string[], edit?: (cfg: Config, bundle: string) => void): { id: string; bundle: string } {
  const k = created(c, args, edit);
  c.oci.ok(['start', k.id]);
  return k;
}
const SLEEP = ['sleep', '600'];
const stopped = (c: Ctx, id: string) => until(() => c.oci.state(id).status === 'stopped', 10_000, `${id} stopped`);
const fails = (r: Result, what: string) => assert.notEqual(r.status, 0, `${what} exited 0 (expected an error)`);
const nsOf = (p: string) => readlinkSync(p);

export const CASES: Case[] = [
  // ------------------------------------------------------------------ lifecycle (runtime.md)
  {
    section: 'lifecycle',
    name: 'create: status created, pid set, user process not yet run',
    run: async (c) => {
      const { id, bundle } = created(c, ['sh', '-c', 'touch /ran; sleep 600']);
      const st = c.oci.state(id);
      assert.equal(st.status, 'created');
      assert.ok(st.pid > 0, 'pid');
      await sleep(200);
      assert.ok(!existsSync(join(bundle, 'rootfs/ran')), 'the user process ran before start');
    },
  },
  {
    section: 'lifecycle',
    name: 'start: the user process runs, status running',
    run: async (c) => {
      const { id, bundle } = created(c, ['sh', '-c', 'touch /ran; sleep 600']);
      c.oci.ok(['start', id]);
      await until(() => existsSync(join(bundle, 'rootfs/ran')), 5000, 'the process to run');
      assert.equal(c.oci.state(id).status, 'running');
    },
  },
  {
    section: 'lifecycle',
    name: 'start of a running container fails',
    run: async (c) => {
      const { id } = started(c, SLEEP);
      fails(c.oci.cmd(['start', id]), 'start of a running container');
      assert.equal(c.oci.state(id).status, 'running');
    },
  },
  {
    section: 'lifecycle',
    name: 'create with an id in use fails, the first is untouched',
    run: async (c) => {
      const { id, bundle } = created(c, SLEEP);
      fails(c.oci.cmd(['create', '--bundle', bundle, id]), 'a second create');
      assert.equal(c.oci.state(id).status, 'created');
    },
  },
  {
    section: 'lifecycle',
    name: 'state of an unknown id fails',
    run: async (c) => fails(c.oci.cmd(['state', 'interop-nosuch']), 'state of an unknown id'),
  },
  {
    section: 'lifecycle',
    name: 'state JSON: ociVersion, id, status, pid, bundle, annotations',
    run: async (c) => {
      const { id, bundle } = created(c, SLEEP, (cfg) => (cfg['annotations'] = { 'org.example.k': 'v' }));
      const st = c.oci.state(id);
      assert.match(st.ociVersion, /^1\./);
      assert.equal(st.id, id);
      assert.equal(st.bundle, bundle);
      assert.deepEqual(st.annotations, { 'org.example.k': 'v' });
    },
  },
  {
    section: 'lifecycle',
    name: 'kill: the process gets the signal; status stopped',
    run: async (c) => {
      const { id } = started(c, ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']);
      c.oci.ok(['kill', id, 'TERM']);
      await stopped(c, id);
    },
  },
  {
    section: 'lifecycle',
    name: 'kill takes a signal name, SIG name or number',
    run: async (c) => {
      for (const sig of ['KILL', 'SIGKILL', '9']) {
        const { id } = started(c, SLEEP);
        c.oci.ok(['kill', id, sig]);
        await stopped(c, id);
      }
    },
  },
  {
    section: 'lifecycle',
    name: 'kill of a stopped container fails',
    run: async (c) => {
      const { id } = started(c, ['true']);
      await stopped(c, id);
      fails(c.oci.cmd(['kill', id, 'KILL']), 'kill of a stopped container');
    },
  },
  {
    section: 'lifecycle',
    name: 'state of a stopped container: stopped; start of it fails',
    run: async (c) => {
      const { id } = started(c, ['true']);
      await stopped(c, id);
      fails(c.oci.cmd(['start', id]), 'start of a stopped container');
      assert.equal(c.oci.state(id).status, 'stopped');
    },
  },
  {
    section: 'lifecycle',
    name: 'delete of a running container without --force fails; it keeps running',
    run: async (c) => {
      const { id } = started(c, SLEEP);
      fails(c.oci.cmd(['delete', id]), 'delete of a running container');
      const st = c.oci.state(id);
      assert.equal(st.status, 'running');
      assert.ok(alive(st.pid));
    },
  },
  {
    section: 'lifecycle',
    name: 'delete of a created container without --force fails',
    run: async (c) => {
      const { id } = created(c, SLEEP);
      fails(c.oci.cmd(['delete', id]), 'delete of a created container');
      assert.equal(c.oci.state(id).status, 'created');
    },
  },
  {
    section: 'lifecycle',
    name: 'delete --force of a running container: process, state and cgroup gone',
    run: async (c) => {
      const { id } = started(c, SLEEP);
      const pid = c.oci.state(id).pid;
      const cg = cgroupDir(pid, 'memory');
      c.oci.ok(['delete', '--force', id]);
      fails(c.oci.cmd(['state', id]), 'state after delete');
      await until(() => !alive(pid), 5000, 'the process to go');
      assert.ok(!c.oci.entries().includes(id), 'state dir left');
      if (cg) assert.ok(!existsSync(cg), `cgroup ${cg} left`);
    },
  },
  {
    section: 'lifecycle',
    name: 'delete of a stopped container: the OCI root is empty',
    run: async (c) => {
      const { id } = started(c, ['true']);
      await stopped(c, id);
      c.oci.ok(['delete', id]);
      assert.deepEqual(c.oci.entries(), []);
    },
  },
  {
    section: 'lifecycle',
    name: 'hooks: prestart, createRuntime, poststart, poststop get the state on stdin; startContainer runs inside',
    run: async (c) => {
      const log = join(scratchDir(), `hooks-${c.id()}`);
      const hook = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', `echo ${name} "$(cat)" >> ${log}`] });
      const { id, bundle } = created(c, ['sh', '-c', 'sleep 0.3'], (cfg) => {
        cfg['hooks'] = {
          prestart: [hook('prestart')],
          createRuntime: [hook('createRuntime')],
          startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'echo inside > /startc'] }],
          poststart: [hook('poststart')],
          poststop: [hook('poststop')],
        };
      });
      const first = readFileSync(log, 'utf8');
      assert.match(first, /^prestart .*"id":"[^"]+"/m);
      assert.match(first, /^createRuntime /m);
      assert.ok(first.includes(`"id":"${id}"`), 'state JSON on stdin');
      c.oci.ok(['start', id]);
      await until(() => readFileSync(log, 'utf8').includes('poststart'), 5000, 'poststart');
      await stopped(c, id);
      assert.equal(readFileSync(join(bundle, 'rootfs/startc'), 'utf8').trim(), 'inside');
      c.oci.ok(['delete', id]);
      assert.match(readFileSync(log, 'utf8'), /^poststop /m);
    },
  },
  // ------------------------------------------------------------------ the command line engines use
  {
    section: 'command line',
    name: 'run: the exit code of the process (3)',
    run: async (c) => assert.equal((await runWith(c, ['sh', '-c', 'exit 3'])).status, 3),
  },
  {
    section: 'command line',
    name: 'run --detach: running; delete --force',
    run: async (c) => {
      const id = c.id();
      const bundle = makeBundle(c.config(SLEEP, id));
      c.oci.ok(['run', '--detach', '--bundle', bundle, id]);
      assert.equal(c.oci.state(id).status, 'running');
      c.oci.ok(['delete', '--force', id]);
    },
  },
  {
    section: 'command line',
    name: 'create --pid-file: the init pid',
    run: async (c) => {
      const pf = join(scratchDir(), `pid-${c.id()}`);
      const { id } = created(c, SLEEP, undefined, ['--pid-file', pf]);
      assert.equal(Number(readFileSync(pf, 'utf8').trim()), c.oci.state(id).pid);
    },
  },
  {
    section: 'command line',
    name: 'list -q and list --format json show the container',
    run: async (c) => {
      const { id } = created(c, SLEEP);
      assert.ok(c.oci.ok(['list', '-q']).split('\n').includes(id));
      const l = JSON.parse(c.oci.ok(['list', '--format', 'json'])) as { id: string; status: string }[];
      assert.equal(l.find((x) => x.id === id)?.status, 'created');
    },
  },
  {
    section: 'command line',
    name: 'ps --format json: the init pid',
    run: async (c) => {
      const { id } = started(c, SLEEP);
      const pids = JSON.parse(c.oci.ok(['ps', '--format', 'json', id])) as number[];
      assert.ok(pids.includes(c.oci.state(id).pid), `ps: ${JSON.stringify(pids)}`);
    },
  },
  {
    section: 'command line',
    name: 'pause: paused; resume: running',
    run: async (c) => {
      const { id } = started(c, SLEEP);
      c.oci.ok(['pause', id]);
      assert.equal(c.oci.state(id).status, 'paused');
      c.oci.ok(['resume', id]);
      assert.equal(c.oci.state(id).status, 'running');
    },
  },
  {
    section: 'command line',
    name: 'exec ARGS with --env --cwd --user: in the container',
    run: async (c) => {
      const { id } = started(c, SLEEP);
      const o = c.oci.ok(['exec', '--env', 'PATH=/bin', '--env', 'X=y', '--cwd', '/tmp', '--user', '1000:1000', id, 'sh', '-c', 'echo $X $(pwd) $(id -u) $(hostname)']);
      assert.equal(o.trim(), 'y /tmp 1000 oci');
    },
  },
  {
    section: 'command line',
    name: 'exec --process process.json; exit code passed back',
    run: async (c) => {
      const { id } = started(c, SLEEP);
      const pj = join(scratchDir(), `process-${c.id()}.json`);
      const proc = c.config(['sh', '-c', 'echo $$ > /dev/null; exit 4'], id)['process'];
      writeFileSync(pj, JSON.stringify(proc));
      assert.equal(c.oci.cmd(['exec', '--process', pj, id]).status, 4);
    },
  },
  {
    section: 'command line',
    name: 'events --stats: one stats JSON',
    run: async (c) => {
      const { id } = started(c, SLEEP);
      const ev = JSON.parse(c.oci.ok(['events', '--stats', id]).trim().split('\n')[0] ?? '') as { type: string; id: string; data: { memory?: unknown; pids?: unknown } };
      assert.equal(ev.type, 'stats');
      assert.equal(ev.id, id);
      assert.ok(ev.data.memory && ev.data.pids, 'memory and pids stats');
    },
  },
  {
    section: 'command line',
    name: 'update --memory --pids-limit: the cgroup changes',
    run: async (c) => {
      const { id } = started(c, SLEEP);
      c.oci.ok(['update', '--memory', '48M', '--pids-limit', '33', id]);
      const pid = c.oci.state(id).pid;
      assert.equal(readFileSync(join(cgroupDir(pid, 'memory') ?? '', 'memory.limit_in_bytes'), 'utf8').trim(), String(48 << 20));
      assert.equal(readFileSync(join(cgroupDir(pid, 'pids') ?? '', 'pids.max'), 'utf8').trim(), '33');
    },
  },
  {
    section: 'command line',
    name: 'console socket: the pty master arrives; the process has a tty',
    run: async (c) => {
      const sock = join(scratchDir(), `cs-${c.id()}`);
      const rx = consoleReceiver(sock);
      try {
        await rx.ready;
        const { id } = created(c, ['sh', '-c', 'tty; echo hello'], (cfg) => {
          cfg['process'].terminal = true;
          cfg['process'].consoleSize = { height: 30, width: 100 };
        }, ['--console-socket', sock]);
        c.oci.ok(['start', id]);
        const shown = await Promise.race([rx.done, sleep(10_000).then(() => 'timeout')]);
        assert.match(shown, /\/dev\/pts\/\d+\nhello/);
      } finally {
        rx.stop();
      }
    },
  },
  {
    section: 'command line',
    name: 'spec: writes a default config.json',
    run: async (c) => {
      const dir = makeBundle(undefined);
      c.oci.ok(['spec', '--bundle', dir]);
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Config;
      assert.match(cfg['ociVersion'], /^1\./);
      assert.ok(Array.isArray(cfg['process']?.args));
    },
  },
  {
    section: 'command line',
    name: 'features: JSON with ociVersionMin/Max',
    run: async (c) => {
      const f = JSON.parse(c.oci.ok(['features'])) as Config;
      assert.ok(f['ociVersionMin'] && f['ociVersionMax']);
    },
  },
  // ------------------------------------------------------------------ config.json, seen from inside
  {
    section: 'config',
    name: 'process.args, env, cwd',
    run: async (c) => assert.equal(await out(c, ['sh', '-c', 'echo $FOO $(pwd)'], (cfg) => {
      cfg['process'].env.push('FOO=bar');
      cfg['process'].cwd = '/tmp';
    }), 'bar /tmp'),
  },
  {
    section: 'config',
    name: 'process.user uid, gid, additionalGids',
    run: async (c) => assert.equal(await out(c, ['sh', '-c', 'echo $(id -u) $(id -g) $(id -G)'], (cfg) => {
      cfg['process'].user = { uid: 1000, gid: 1000, additionalGids: [2000] };
    }), '1000 1000 1000 2000'),
  },
  {
    section: 'config',
    name: 'process.user.umask',
    run: async (c) => assert.equal(await out(c, ['sh', '-c', 'umask'], (cfg) => (cfg['process'].user.umask = 0o077)), '0077'),
  },
  {
    section: 'config',
    name: 'process.capabilities (bounding, effective, permitted)',
    run: async (c) => {
      const o = await out(c, ['sh', '-c', 'grep -E "^Cap(Eff|Bnd)" /proc/self/status'], (cfg) => {
        const only = ['CAP_NET_BIND_SERVICE'];
        cfg['process'].capabilities = { bounding: only, effective: only, permitted: only };
      });
      assert.match(o, /CapEff:\s+0000000000000400/);
      assert.match(o, /CapBnd:\s+0000000000000400/);
    },
  },
  {
    section: 'config',
    name: 'process.noNewPrivileges',
    run: async (c) => {
      assert.match(await out(c, ['grep', 'NoNewPrivs', '/proc/self/status']), /NoNewPrivs:\s+1/);
      assert.match(await out(c, ['grep', 'NoNewPrivs', '/proc/self/status'], (cfg) => (cfg['process'].noNewPrivileges = false)), /NoNewPrivs:\s+0/);
    },
  },
  {
    section: 'config',
    name: 'process.rlimits (soft and hard)',
    run: async (c) => assert.equal(await out(c, ['sh', '-c', 'echo $(ulimit -n) $(ulimit -Hn)'], (cfg) => {
      cfg['process'].rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 1024 }];
    }), '512 1024'),
  },
  {
    section: 'config',
    name: 'process.oomScoreAdj',
    run: async (c) => assert.equal(await out(c, ['cat', '/proc/self/oom_score_adj'], (cfg) => (cfg['process'].oomScoreAdj = 500)), '500'),
  },
  {
    section: 'config',
    name: 'hostname and domainname',
    run: async (c) => assert.equal(await out(c, ['sh', '-c', 'echo $(hostname) $(cat /proc/sys/kernel/domainname)'], (cfg) => {
      cfg['hostname'] = 'h1';
      cfg['domainname'] = 'example.org';
    }), 'h1 example.org'),
  },
  {
    section: 'config',
    name: 'root.readonly',
    run: async (c) => {
      const r = await runWith(c, ['touch', '/x'], (cfg) => (cfg['root'].readonly = true));
      fails(r, 'a write to a read-only root');
      assert.match(r.err + r.out, /Read-only file system/);
    },
  },
  {
    section: 'config',
    name: 'root.path absolute',
    run: async (c) => assert.equal(await out(c, ['cat', '/marker'], (cfg, b) => {
      writeFileSync(join(b, 'rootfs/marker'), 'abs\n');
      cfg['root'].path = join(b, 'rootfs');
    }), 'abs'),
  },
  {
    section: 'config',
    name: 'mounts: bind rw (the host sees the write), bind ro, missing destination created',
    run: async (c) => {
      const host = join(scratchDir(), `bind-${c.id()}`);
      mkdirSync(host);
      const r = await runWith(c, ['sh', '-c', 'echo w > /data/f && ! touch /ro/g 2>/dev/null && echo ok'], (cfg) => {
        cfg['mounts'].push({ destination: '/data', type: 'bind', source: host, options: ['rbind', 'rw'] });
        cfg['mounts'].push({ destination: '/ro', type: 'bind', source: host, options: ['bind', 'ro'] });
      });
      assert.equal(r.out.trim(), 'ok', r.err);
      assert.equal(readFileSync(join(host, 'f'), 'utf8'), 'w\n');
    },
  },
  {
    section: 'config',
    name: 'mounts: tmpfs size and mode; nosuid, nodev, noexec',
    run: async (c) => {
      const o = await out(c, ['sh', '-c', 'stat -c %a /t; grep " /t " /proc/mounts'], (cfg) => {
        cfg['mounts'].push({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=700', 'nosuid', 'nodev', 'noexec'] });
      });
      const [mode, line] = o.split('\n');
      assert.equal(mode, '700');
      for (const opt of ['nosuid', 'nodev', 'noexec', 'size=1024k']) assert.ok(line?.includes(opt), `${opt} in ${line}`);
    },
  },
  {
    section: 'config',
    name: 'mounts: cgroup at /sys/fs/cgroup',
    run: async (c) => {
      const o = await out(c, ['ls', '/sys/fs/cgroup'], (cfg) => {
        cfg['mounts'].push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] });
      });
      assert.ok(/memory|cgroup\.controllers/.test(o), o);
    },
  },
  {
    section: 'config',
    name: 'default devices and /dev links (null zero full random urandom tty ptmx fd)',
    run: async (c) => {
      const o = await out(c, ['sh', '-c', 'for d in null zero full random urandom tty; do test -c /dev/$d || echo missing $d; done; test -e /dev/ptmx || echo no ptmx; test -L /dev/fd || echo no fd; echo done']);
      assert.equal(o, 'done');
    },
  },
  {
    section: 'config',
    name: 'linux.devices: a device node with its mode; resources.devices allow',
    run: async (c) => {
      const o = await out(c, ['sh', '-c', 'stat -c "%t:%T %a" /dev/edt0 && echo x > /dev/edt0 && echo w'], (cfg) => {
        cfg['linux'].devices = [{ path: '/dev/edt0', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }];
        cfg['linux'].resources.devices.push({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' });
      });
      assert.equal(o, '1:3 666\nw');
    },
  },
  {
    section: 'config',
    name: 'resources.devices: a device not allowed cannot be opened',
    run: async (c) => {
      const r = await runWith(c, ['sh', '-c', 'mknod /tmp/sda b 8 0 && head -c1 /tmp/sda']);
      fails(r, 'opening a denied device');
      assert.match(r.err, /Operation not permitted/);
    },
  },
  {
    section: 'config',
    name: 'resources: memory, pids, cpu shares and quota in the cgroup; cgroupsPath absolute',
    run: async (c) => {
      const { id } = started(c, SLEEP, (cfg) => {
        cfg['linux'].resources.memory = { limit: 64 << 20 };
        cfg['linux'].resources.pids = { limit: 20 };
        cfg['linux'].resources.cpu = { shares: 512, quota: 50000, period: 100000 };
      });
      const pid = c.oci.state(id).pid;
      const rd = (ctrl: string, f: string) => readFileSync(join(cgroupDir(pid, ctrl) ?? '', f), 'utf8').trim();
      assert.ok(cgroupDir(pid, 'memory')?.endsWith(`/edt-interop-${id}`), `cgroup ${cgroupDir(pid, 'memory')}`);
      assert.equal(rd('memory', 'memory.limit_in_bytes'), String(64 << 20));
      assert.equal(rd('pids', 'pids.max'), '20');
      assert.equal(rd('cpu', 'cpu.shares'), '512');
      assert.equal(rd('cpu', 'cpu.cfs_quota_us'), '50000');
    },
  },
  {
    section: 'config',
    name: 'namespaces: each new one differs from the host; pid 1; only lo',
    run: async (c) => {
      const kinds = ['pid', 'net', 'ipc', 'uts', 'mnt'];
      const o = await out(c, ['sh', '-c', `echo $$; ls /sys/class/net; for n in ${kinds.join(' ')}; do readlink /proc/self/ns/$n; done`]);
      const lines = o.split('\n');
      assert.equal(lines[0], '1');
      assert.equal(lines[1], 'lo');
      kinds.forEach((k, i) => assert.notEqual(lines[i + 2], nsOf(`/proc/self/ns/${k}`), `${k} namespace is the host's`));
    },
  },
  {
    section: 'config',
    name: 'namespaces: a type left out is shared with the host (network)',
    run: async (c) => {
      const o = await out(c, ['readlink', '/proc/self/ns/net'], (cfg) => {
        cfg['linux'].namespaces = cfg['linux'].namespaces.filter((n: { type: string }) => n.type !== 'network');
      });
      assert.equal(o, nsOf('/proc/self/ns/net'));
    },
  },
  {
    section: 'config',
    name: 'namespaces: path joins an existing network namespace',
    run: async (c) => {
      const holder = spawn('unshare', ['--net', 'sleep', '600'], { stdio: 'ignore' });
      c.holders.push(holder.pid ?? 0);
      const nsPath = `/proc/${holder.pid}/ns/net`;
      await until(() => {
        try {
          return nsOf(nsPath) !== nsOf('/proc/self/ns/net');
        } catch {
          return false;
        }
      }, 5000, 'the holder namespace');
      const o = await out(c, ['readlink', '/proc/self/ns/net'], (cfg) => {
        cfg['linux'].namespaces = cfg['linux'].namespaces.map((n: { type: string }) => (n.type === 'network' ? { type: 'network', path: nsPath } : n));
      });
      assert.equal(o, nsOf(nsPath));
    },
  },
  {
    section: 'config',
    name: 'user namespace: uidMappings and gidMappings',
    run: async (c) => {
      const o = await out(c, ['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; id -u'], (cfg) => {
        cfg['linux'].namespaces.push({ type: 'user' });
        cfg['linux'].uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
        cfg['linux'].gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
      });
      const nums = o.split('\n').map((l) => l.trim().split(/\s+/).join(' '));
      assert.deepEqual(nums, ['0 200000 65536', '0 200000 65536', '0']);
    },
  },
  {
    section: 'config',
    name: 'linux.sysctl',
    run: async (c) => assert.equal(await out(c, ['cat', '/proc/sys/net/ipv4/ip_forward'], (cfg) => (cfg['linux'].sysctl = { 'net.ipv4.ip_forward': '1' })), '1'),
  },
  {
    section: 'config',
    name: 'linux.seccomp: a syscall denied with an errno',
    run: async (c) => {
      const r = await runWith(c, ['mkdir', '/tmp/x'], (cfg) => {
        cfg['linux'].seccomp = {
          defaultAction: 'SCMP_ACT_ALLOW',
          architectures: ['SCMP_ARCH_X86_64'],
          syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
        };
      });
      fails(r, 'a denied mkdir');
      assert.match(r.err, /Operation not permitted/);
    },
  },
  {
    section: 'config',
    name: 'linux.maskedPaths (file and directory)',
    run: async (c) => assert.equal(await out(c, ['sh', '-c', 'echo $(wc -c < /proc/timer_list) $(ls /sys/kernel | wc -l)'], (cfg) => cfg['linux'].maskedPaths.push('/sys/kernel')), '0 0'),
  },
  {
    section: 'config',
    name: 'linux.readonlyPaths',
    run: async (c) => {
      const r = await runWith(c, ['sh', '-c', 'echo 1 > /proc/sys/kernel/ns_last_pid']);
      fails(r, 'a write to a read-only path');
      assert.match(r.err, /Read-only file system/);
    },
  },
  {
    section: 'config',
    name: 'linux.rootfsPropagation slave: accepted',
    run: async (c) => assert.equal(await out(c, ['echo', 'ok'], (cfg) => (cfg['linux'].rootfsPropagation = 'slave')), 'ok'),
  },
  {
    section: 'config',
    name: 'linux.personality LINUX32',
    run: async (c) => assert.equal(await out(c, ['uname', '-m'], (cfg) => (cfg['linux'].personality = { domain: 'LINUX32' })), 'i686'),
  },
  // ------------------------------------------------------------------ bad bundles: an error, nothing created
  ...badBundle('no config.json', (b) => b),
  ...badBundle('invalid JSON in config.json', (b) => (writeFileSync(join(b, 'config.json'), '{"ociVersion": '), b)),
  ...badBundle('an unknown namespace type', (b, cfg) => (cfg['linux'].namespaces.push({ type: 'bogus' }), b)),
  ...badBundle('a relative root outside the bundle', (b, cfg) => {
    const outside = join(scratchDir(), `outside-${readdirSync(scratchDir()).length}`);
    renameSync(join(b, 'rootfs'), outside);
    cfg['root'].path = `../${outside.split('/').pop()}`;
    return b;
  }),
  ...badBundle('a namespace path that is not a namespace', (b, cfg) => {
    cfg['linux'].namespaces = cfg['linux'].namespaces.map((n: { type: string }) => (n.type === 'network' ? { type: 'network', path: join(b, 'config.json') } : n));
    return b;
  }),
  {
    section: 'bad bundle',
    name: 'a mount destination through a symlink out of the rootfs stays inside it',
    run: async (c) => {
      const hostDir = join(scratchDir(), `escape-${c.id()}`);
      mkdirSync(hostDir);
      const r = await runWith(c, ['sh', '-c', 'touch /escape/m/marker 2>/dev/null; true'], (cfg, b) => {
        symlinkSync(`../../../../../../../../..${hostDir}`, join(b, 'rootfs/escape'));
        cfg['mounts'].push({ destination: '/escape/m', type: 'tmpfs', source: 'tmpfs', options: [] });
      });
      assert.deepEqual(readdirSync(hostDir), [], `the host dir got ${readdirSync(hostDir).join(',')} (run exit ${r.status})`);
    },
  },
  {
    section: 'bad bundle',
    name: '--log --log-format json: the error as a JSON line with level and msg',
    run: async (c) => {
      const log = join(scratchDir(), `log-${c.id()}.json`);
      const b = makeBundle(undefined);
      const r = c.oci.cmd(['create', '--bundle', b, c.id()], { log, logJson: true });
      fails(r, 'create without config.json');
      const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string });
      assert.ok(lines.some((l) => l.level === 'error' && /config\.json/.test(l.msg)), JSON.stringify(lines));
    },
  },
];

/** create of a broken bundle: non-zero exit, nothing in the state root, no cgroup, no process. */
function badBundle(what: string, breakIt: (bundle: string, cfg: Config) => string): Case[] {
  return [
    {
      section: 'bad bundle',
      name: `${what}: an error, nothing created`,
      run: async (c) => {
        const id = c.id();
        const cfg = c.config(SLEEP, id);
        const b = makeBundle(undefined);
        breakIt(b, cfg);
        if (what !== 'no config.json' && !what.startsWith('invalid JSON')) writeFileSync(join(b, 'config.json'), JSON.stringify(cfg));
        const r = c.oci.cmd(['create', '--bundle', b, id]);
        const listed = c.oci.cmd(['state', id]).status === 0;
        if (listed) c.oci.cmd(['delete', '--force', id]);
        fails(r, `create with ${what}`);
        assert.ok(r.err.trim().length > 0, 'no message on stderr');
        assert.ok(!listed, 'the container exists after the failed create');
      },
    },
  ];
}
