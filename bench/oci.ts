/**
 * `npm run bench` (issue 10): the OCI runtime side by side, in one run.
 *   - `create` + `start` + `delete --force` of busybox /bin/true: execdriver-oci vs runc vs crun
 *     (crun through the wrapper that unmounts cgroup2 in a mount namespace of its own, test/oci/harness.ts);
 *   - `state ID` of a created container, and `start`, `pause`, `resume`, `kill KILL` of a `sleep`
 *     container (create and delete untimed): execdriver-oci vs runc vs crun;
 *   - execdriver-oci in two columns: through its native front (native/ocifront.c: `state`, `start`,
 *     `kill`, `pause`, `resume` served without Node) and Node-only (EXECDRIVER_OCI_NO_FRONT=1);
 *   - `docker run --rm --runtime execdriver busybox true` vs `--runtime runc`, on one dockerd of its own
 *     (temp data-root/exec-root/socket, --iptables=false, --bridge=none), stopped afterwards;
 *   - the CLI's own share: `--version` of each runtime (process start and load of the command line,
 *     no container), and that time as a share of each call.
 *
 *   node dist/bench/oci.js [--runs N] [--no-docker]   (or BENCH_RUNS=N; default 20, 3 warm-up rounds)
 *
 * Every call is timed with spawnSync's wall clock (fork+exec included); candidates interleaved
 * round-robin so a change of the machine's load hits them alike.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseConfig, makeBundle, Oci, runtimes, scratchDir, type Runtime } from '../test/oci/harness.js';
import { makeRootfs } from '../test/helpers.js';
import { fmt, summarize, table, type Summary } from './stats.js';

const runsArg = process.argv.indexOf('--runs');
const RUNS = Number(runsArg >= 0 ? process.argv[runsArg + 1] : process.env['BENCH_RUNS'] ?? 20);
const WARMUP = 3;
const log = (s: string) => process.stderr.write(`${s}\n`);
const ENV: NodeJS.ProcessEnv = { ...process.env };
delete ENV['NODE_EXTRA_CA_CERTS'];

function time(file: string, args: string[], expect = 0, env: NodeJS.ProcessEnv = ENV): number {
  const t0 = process.hrtime.bigint();
  // no pipes: `create` leaves the container's init holding the runtime's stdio
  const r = spawnSync(file, args, { stdio: 'ignore', timeout: 60_000, killSignal: 'SIGKILL', env });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== expect) throw new Error(`${file} ${args.join(' ')}: exit ${r.status ?? r.signal}`);
  return ms;
}

interface Cand {
  name: string;
  one: (i: number) => number;
  samples: number[];
}
function measure(cands: Cand[]): Summary[] {
  for (let round = 0; round < WARMUP + RUNS; round++) {
    for (let k = 0; k < cands.length; k++) {
      const c = cands[(round + k) % cands.length];
      if (!c) continue;
      const ms = c.one(round);
      if (round >= WARMUP) c.samples.push(ms);
    }
  }
  return cands.map((c) => summarize(c.name, c.samples));
}

const NODE_ONLY: NodeJS.ProcessEnv = { ...ENV, EXECDRIVER_OCI_NO_FRONT: '1' };
/** A candidate: a runtime, and for execdriver-oci with or without its native front. */
interface Rt extends Runtime {
  label: string;
  env: NodeJS.ProcessEnv;
}
const rts: Rt[] = runtimes()
  .filter((r) => !r.missing)
  .flatMap((r) => (r.name === 'execdriver-oci' ? [{ ...r, label: r.name, env: ENV }, { ...r, label: `${r.name} (Node only)`, env: NODE_ONLY }] : [{ ...r, label: r.name, env: ENV }]));
const results: Summary[] = [];
const version: Record<string, number> = {};
const roots: Oci[] = [];

try {
  // --- the CLI's own start: --version
  log(`oci bench: ${rts.map((r) => r.label).join(', ')}; ${RUNS} runs`);
  const vs = measure(rts.map((r) => ({ name: `${r.label} --version`, one: () => time(r.bin, ['--version'], 0, r.env), samples: [] })));
  vs.forEach((s, i) => (version[rts[i]?.label ?? ''] = s.median));
  results.push(...vs);

  // --- create + start + delete of /bin/true
  const ocis = rts.map((r, k) => {
    const oci = new Oci(r, `bench-${k}`);
    roots.push(oci);
    return { oci, r };
  });
  const lifecycle = ocis.map(({ oci, r }, k) => {
    const bundle = makeBundle(baseConfig(['/bin/true'], `/edt-interop-bench-${oci.rt.name}-${k}`));
    return {
      name: `${r.label} create+start+delete`,
      samples: [] as number[],
      one: (i: number) => {
        const id = `interop-bench-${i}`;
        const g = ['--root', oci.root];
        return time(r.bin, [...g, 'create', '--bundle', bundle, id], 0, r.env) + time(r.bin, [...g, 'start', id], 0, r.env) + time(r.bin, [...g, 'delete', '--force', id], 0, r.env);
      },
    };
  });
  log('  create+start+delete');
  results.push(...measure(lifecycle));

  // --- state of a created container
  const stateIds = ocis.map(({ oci, r }, k) => {
    const bundle = makeBundle(baseConfig(['sleep', '600'], `/edt-interop-bench-state-${oci.rt.name}-${k}`));
    oci.ok(['create', '--bundle', bundle, 'interop-bench-state']);
    return { oci, r };
  });
  log('  state');
  results.push(...measure(stateIds.map(({ oci, r }) => ({ name: `${r.label} state`, samples: [], one: () => time(r.bin, ['--root', oci.root, 'state', 'interop-bench-state'], 0, r.env) }))));
  for (const { oci } of ocis) oci.cmd(['delete', '--force', 'interop-bench-state']);

  // --- start, pause, resume, kill of a sleep (create and delete untimed), each verb its own row
  const VERBS = ['start', 'pause', 'resume', 'kill'] as const;
  const per = ocis.map(({ oci, r }, k) => ({ oci, r, bundle: makeBundle(baseConfig(['sleep', '600'], `/edt-interop-bench-verbs-${oci.rt.name}-${k}`)), samples: Object.fromEntries(VERBS.map((v) => [v, [] as number[]])) }));
  log('  start, pause, resume, kill');
  for (let round = 0; round < WARMUP + RUNS; round++) {
    for (let k = 0; k < per.length; k++) {
      const c = per[(round + k) % per.length]!;
      const id = `interop-bench-v${round}`;
      const g = ['--root', c.oci.root];
      time(c.r.bin, [...g, 'create', '--bundle', c.bundle, id], 0, c.r.env);
      const ms = VERBS.map((v) => time(c.r.bin, [...g, v, ...(v === 'kill' ? [id, 'KILL'] : [id])], 0, c.r.env));
      time(c.r.bin, [...g, 'delete', '--force', id], 0, c.r.env);
      if (round >= WARMUP) VERBS.forEach((v, j) => c.samples[v]!.push(ms[j]!));
    }
  }
  for (const v of VERBS) results.push(...per.map((c) => summarize(`${c.r.label} ${v}`, c.samples[v]!)));
} finally {
  for (const oci of roots) oci.cleanup();
}

// --- docker run --rm
let dockerd: ChildProcess | undefined;
const ours = rts.find((r) => r.label === 'execdriver-oci');
const dockerDir = join(scratchDir(), 'd');
const dockerNote: string[] = [];
if (process.argv.includes('--no-docker')) dockerNote.push('docker run: not measured (--no-docker)');
else if (existsSync('/usr/sbin/dockerd') && existsSync('/usr/bin/docker')) {
  mkdirSync(dockerDir);
  const rootfs = makeRootfs();
  const env: NodeJS.ProcessEnv = { ...ENV, DOCKER_HOST: `unix://${dockerDir}/sock` };
  try {
    writeFileSync(join(dockerDir, 'daemon.json'), '{}');
    dockerd = spawn('/usr/sbin/dockerd', [
      '--data-root', join(dockerDir, 'data'), '--exec-root', join(dockerDir, 'x'), '--pidfile', join(dockerDir, 'pid'),
      '-H', `unix://${dockerDir}/sock`, '--config-file', join(dockerDir, 'daemon.json'),
      '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none',
      '--storage-driver', 'vfs', '--cgroup-parent', '/edt-interop-bench', '--containerd-namespace', 'edt-interop-bench',
      '--containerd-plugins-namespace', 'edt-interop-bench-p',
      ...(ours ? ['--add-runtime', `execdriver=${ours.bin}`] : []),
    ], { stdio: 'ignore', env });
    const end = Date.now() + 40_000;
    while (spawnSync('/usr/bin/docker', ['version'], { env, stdio: 'ignore' }).status !== 0) {
      if (Date.now() > end) throw new Error('dockerd did not answer');
      spawnSync('sleep', ['0.2']);
    }
    const tar = spawnSync('tar', ['-C', rootfs.dir, '-c', '.'], { maxBuffer: 1 << 28 });
    if (spawnSync('/usr/bin/docker', ['import', '-', 'busybox:interop'], { input: tar.stdout, env }).status !== 0) throw new Error('docker import failed');
    const names = ['runc', ...(ours ? ['execdriver'] : [])];
    log('  docker run --rm');
    results.push(...measure(names.map((n) => ({ name: `docker run --rm --runtime ${n}`, samples: [], one: () => time('/usr/bin/docker', ['run', '--rm', '--network', 'none', '--runtime', n, 'busybox:interop', 'true'], 0, env) }))));
  } catch (e) {
    dockerNote.push(`docker run: not measured: ${(e as Error).message.slice(0, 300)}`);
  } finally {
    if (dockerd) {
      dockerd.kill('SIGTERM');
      await new Promise((r) => { dockerd?.on('exit', r); setTimeout(r, 30_000); });
    }
    rootfs.cleanup();
    for (const c of ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'pids', 'systemd', 'unified']) {
      try { rmSync(join('/sys/fs/cgroup', c, 'edt-interop-bench'), { recursive: false }); } catch { spawnSync('rmdir', [join('/sys/fs/cgroup', c, 'edt-interop-bench')], { stdio: 'ignore' }); }
    }
    rmSync(dockerDir, { recursive: true, force: true });
  }
} else dockerNote.push('docker run: not measured (docker.io is not installed)');

// --- report
const med = (n: string) => results.find((s) => s.name === n)?.median ?? NaN;
const share = (s: Summary) => {
  const rt = [...rts].sort((a, b) => b.label.length - a.label.length).find((r) => s.name.startsWith(`${r.label} `));
  if (!rt || s.name.endsWith('--version')) return '';
  if (rt.label === 'execdriver-oci' && !s.name.includes('create+start+delete')) return 'native front'; // no Node start
  const calls = s.name.includes('create+start+delete') ? 3 : 1;
  return `${fmt((100 * calls * (version[rt.label] ?? NaN)) / s.median, 0)}%`;
};
console.log('\n## OCI runtime (issue 10)\n');
console.log(table(['candidate', 'median ms', 'p90 ms', 'min ms', 'CLI start share'], results.map((s) => [s.name, fmt(s.median), fmt(s.p90), fmt(s.min), share(s)])));
const ratio = (a: string, b: string) => fmt(med(a) / med(b), 2);
console.log('');
const NODE = 'execdriver-oci (Node only)';
for (const row of ['create+start+delete', 'state', 'start', 'pause', 'resume', 'kill']) {
  console.log(`${row}: execdriver-oci / runc ${ratio(`execdriver-oci ${row}`, `runc ${row}`)}x, / crun ${ratio(`execdriver-oci ${row}`, `crun ${row}`)}x; Node only / runc ${ratio(`${NODE} ${row}`, `runc ${row}`)}x; front / Node only ${ratio(`execdriver-oci ${row}`, `${NODE} ${row}`)}x`);
}
if (!dockerNote.length) console.log(`docker run --rm, execdriver / runc: ${ratio('docker run --rm --runtime execdriver', 'docker run --rm --runtime runc')}x (target <= 1.3x)`);
console.log('CLI start share: the runtime\'s own `--version` time (process start, load of its command line) times the calls, over the median.');
console.log('execdriver-oci: through its native front (state, start, kill, pause, resume served in C); (Node only): EXECDRIVER_OCI_NO_FRONT=1.');
for (const n of dockerNote) console.log(n);
