/**
 * The throughput and memory part of the bench (issue 13): 100 containers of busybox `/bin/true`, 8 at
 * a time, through the library (a pool of `driver.run()` promises in this process), the execdriver
 * command line, crun, runc and lxc-execute (each through `xargs -P 8`, so every command line pays the
 * same fork+exec), in one run; then the same with bridge networking for the library and lxc-execute
 * with a veth, on a bridge of the bench's own (no address outside it, no route, no NAT). Then memory:
 * the peak RSS of the command-line process, the monitor's per running container, and whether a
 * container starts under a 1 MiB memory limit.
 *
 *   node dist/bench/run.js --only throughput [--containers N] [--parallel N]   (or part of `npm run bench`)
 *
 * BENCH_BRIDGE=NAME names the bridge NAME1 (default ebt<pid>).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command, ManagedDriver, NetworkConfig } from '../src/driver.js';
import { createDriver } from '../src/index.js';
import { formatIPv4, parseCidr } from '../src/network/subnet.js';
import { makeRootfs } from '../test/helpers.js';
import { deleteBridge, ip, linkExists, sweepCgroups } from './cleanup.js';
import { lxcConfig, ociConfig } from './configs.js';
import { fmt, table } from './stats.js';

const SELF = fileURLToPath(import.meta.url);
const REPO = resolve(dirname(SELF), '../..');
const CLI = join(REPO, 'bin/execdriver');
const UNIFIED = '/sys/fs/cgroup/unified';
const MiB = 1024 * 1024;
const log = (s: string) => process.stderr.write(`${s}\n`);

const CLI_ENV: NodeJS.ProcessEnv = { ...process.env };
delete CLI_ENV['NODE_EXTRA_CA_CERTS'];
delete CLI_ENV['EXECDRIVER_TRACE'];

export interface ThroughputRow {
  name: string;
  containers: number;
  parallel: number;
  seconds: number;
  perSecond: number;
}

export interface MemoryReport {
  /** peak RSS (MiB, median of 5) of `execdriver --help` and of `execdriver run /bin/true` (the node process; its monitor is far smaller) */
  cliHelpPeakMiB?: number;
  cliRunPeakMiB?: number;
  /** the native monitor of a running container: peak and current RSS (MiB, median over the containers) */
  monitorPeakMiB?: number;
  monitorRssMiB?: number;
  /** a container of `/bin/true` under a 1 MiB memory limit: 'ok' or why not */
  oneMiB: Record<string, string>;
}

export interface ThroughputResult {
  rows: ThroughputRow[];
  memory: MemoryReport;
  notes: string[];
  text: string;
}

/** Containers 0…N-1 through `argv` (an `xargs -P P -I{} …` line, or one that ends in it), fed their numbers on stdin; seconds. */
function xargsPool(n: number, argv: string[], env?: NodeJS.ProcessEnv): number {
  const input = Array.from({ length: n }, (_, i) => String(i)).join('\n') + '\n';
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { input, stdio: ['pipe', 'ignore', 'pipe'], timeout: 600_000, killSignal: 'SIGKILL', ...(env ? { env } : {}) });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error) throw new Error(`${argv.join(' ').slice(0, 100)}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${argv.join(' ').slice(0, 100)}: exit ${r.status ?? r.signal}: ${r.stderr.toString().trim().slice(0, 400)}`);
  return s;
}

/** N library runs, `parallel` at a time; seconds. */
async function libraryPool(n: number, parallel: number, one: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    while (next < n) await one(next++);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Peak RSS (KiB) of a command, from GNU time's %M (wait4's ru_maxrss of the child). */
function peakRssKiB(argv: string[], env?: NodeJS.ProcessEnv): number {
  const r = spawnSync('/usr/bin/time', ['-f', 'maxrss %M', ...argv], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], ...(env ? { env } : {}) });
  const m = /maxrss (\d+)/.exec(r.stderr ?? '');
  if (r.status !== 0 || !m) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${(r.stderr ?? '').trim().slice(0, 300)}`);
  return Number(m[1]);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN;
};

function statusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function ppidOf(pid: number): number | undefined {
  try {
    const m = /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Measure throughput and memory; cleans up everything it made. */
export async function throughputBench(opts: { containers: number; parallel: number }): Promise<ThroughputResult> {
  const { containers: N, parallel: P } = opts;
  const tag = `tp${process.pid.toString(36)}`;
  const tmp = mkdtempSync('/tmp/execdriver-bench-tp-');
  const rootfs = makeRootfs();
  const R = rootfs.dir;
  const runcRoot = join(tmp, 'runc');
  const crunRoot = join(tmp, 'crun');
  const lxcPath = join(tmp, 'lxcpath');
  mkdirSync(lxcPath);
  const libRoot = join(tmp, 'lib-root');
  const cliRoot = join(tmp, 'cli-root');
  const bridge = (process.env['BENCH_BRIDGE'] ? `${process.env['BENCH_BRIDGE']}1` : `ebt${process.pid.toString(36)}`).slice(0, 15);
  const rows: ThroughputRow[] = [];
  const notes: string[] = [];
  const memory: MemoryReport = { oneMiB: {} };
  const native = createDriver('native', { root: libRoot });
  const detached: string[] = [];
  const row = (name: string, seconds: number) => rows.push({ name, containers: N, parallel: P, seconds, perSecond: N / seconds });
  const bundle = (name: string, args: string[], memoryLimit?: number) => {
    const dir = join(tmp, name);
    mkdirSync(dir);
    const config = ociConfig({ rootfs: R, args, cgroupsPath: '' }) as { linux: { resources: Record<string, unknown>; cgroupsPath?: string } };
    // no cgroupsPath: containers of one bundle run side by side, each in a cgroup named by its id (<tag>…)
    delete config.linux.cgroupsPath;
    if (memoryLimit) config.linux.resources['memory'] = { limit: memoryLimit };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    return dir;
  };
  const cmd = (id: string, network: NetworkConfig = { mode: 'none' }, extra: Partial<Command> = {}): Command => ({
    id,
    rootfs: R,
    entrypoint: '/bin/true',
    network,
    ...extra,
  });
  const libOne = (d: ManagedDriver, prefix: string, network?: NetworkConfig) => async (i: number) => {
    const st = await d.run(cmd(`${tag}${prefix}${i}`, network));
    if (st.exitCode !== 0) throw new Error(`library ${prefix}${i}: exit ${st.exitCode}`);
  };
  const crunInNs = (script: string): string[] => ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `umount ${UNIFIED} 2>/dev/null; ${script}`, 'sh'];
  let bridgeMade = false;
  try {
    log(`throughput bench: ${N} containers of /bin/true, ${P} at a time`);
    const lxcNone = join(tmp, 'lxc-none.conf');
    writeFileSync(lxcNone, lxcConfig({ rootfs: R }));
    const runcB = bundle('runc', ['/bin/true']);
    const crunB = bundle('crun', ['/bin/true']);
    const xargs = ['xargs', '-P', String(P), '-I{}'];
    // warm-up: one of each path
    await libOne(native, 'w')(0);
    // the candidates, in two rounds of opposite order: the better of the two is kept
    const cands: Array<[string, (round: number) => number | Promise<number>]> = [
      ['library driver.run() (native)', (k) => libraryPool(N, P, libOne(native, `l${k}_`))],
      ['execdriver run (CLI)', (k) => xargsPool(N, [...xargs, CLI, '--root', cliRoot, 'run', '--net', 'none', '--rootfs', R, '--id', `${tag}c${k}_{}`, '--', '/bin/true'], CLI_ENV)],
      ['crun run', (k) => xargsPool(N, crunInNs(`exec ${xargs.join(' ')} crun --root ${crunRoot} run --bundle ${crunB} ${tag}k${k}_{}`))],
      ['runc run', (k) => xargsPool(N, [...xargs, 'runc', '--root', runcRoot, 'run', '--bundle', runcB, `${tag}r${k}_{}`])],
      ['lxc-execute', (k) => xargsPool(N, [...xargs, 'lxc-execute', '-n', `${tag}x${k}_{}`, '-P', lxcPath, '-f', lxcNone, '--', '/bin/true'])],
    ];
    // bridge networking: a bridge of our own with a /24 nothing else uses, no NAT, no route out
    const subnet = '10.219.77.0/24';
    const gw = formatIPv4(parseCidr(subnet).network + 1);
    for (const args of [
      ['link', 'add', 'name', bridge, 'type', 'bridge'],
      ['addr', 'add', `${gw}/24`, 'dev', bridge],
      ['link', 'set', bridge, 'up'],
    ]) {
      const r = ip(args);
      if (!r.ok) throw new Error(`ip ${args.join(' ')}: ${r.err.trim()}`);
      bridgeMade = true;
    }
    try {
      writeFileSync(`/proc/sys/net/ipv6/conf/${bridge}/disable_ipv6`, '1');
    } catch {
      /* no IPv6 */
    }
    const bridgeNet: NetworkConfig = { mode: 'bridge', bridge, subnet };
    const lxcVeth = join(tmp, 'lxc-veth.conf');
    writeFileSync(lxcVeth, lxcConfig({ rootfs: R, veth: { bridge, address: `${formatIPv4(parseCidr(subnet).network + 200)}/24`, gateway: gw } }));
    cands.push(
      ['library driver.run() (native, bridge)', (k) => libraryPool(N, P, libOne(native, `b${k}_`, bridgeNet))],
      ['lxc-execute (veth on bridge)', (k) => xargsPool(N, [...xargs, 'lxc-execute', '-n', `${tag}v${k}_{}`, '-P', lxcPath, '-f', lxcVeth, '--', '/bin/true'])],
    );
    const best = new Map<string, number>();
    for (const [round, order] of [cands, [...cands].reverse()].entries()) {
      for (const [name, run] of order) {
        const s = await run(round);
        log(`  ${name}: ${N} in ${s.toFixed(2)} s`);
        best.set(name, Math.min(best.get(name) ?? Infinity, s));
      }
    }
    for (const [name] of cands) row(name, best.get(name)!);

    // --- memory
    const helpPeaks: number[] = [];
    const runPeaks: number[] = [];
    for (let i = 0; i < 5; i++) {
      helpPeaks.push(peakRssKiB(['node', CLI, '--help'], CLI_ENV));
      runPeaks.push(peakRssKiB(['node', CLI, '--root', cliRoot, 'run', '--net', 'none', '--rootfs', R, '--id', `${tag}m${i}`, '--', '/bin/true'], CLI_ENV));
    }
    memory.cliHelpPeakMiB = median(helpPeaks) / 1024;
    memory.cliRunPeakMiB = median(runPeaks) / 1024;
    const monPeaks: number[] = [];
    const monRss: number[] = [];
    for (let i = 0; i < P; i++) {
      const id = `${tag}s${i}`;
      const h = await native.start({ ...cmd(id), entrypoint: '/bin/sleep', arguments: ['1000'] }, { detach: true });
      detached.push(id);
      const monitor = ppidOf(h.pid);
      const peak = monitor ? statusKiB(monitor, 'VmHWM') : undefined;
      const rss = monitor ? statusKiB(monitor, 'VmRSS') : undefined;
      if (peak !== undefined) monPeaks.push(peak);
      if (rss !== undefined) monRss.push(rss);
    }
    if (monPeaks.length) memory.monitorPeakMiB = median(monPeaks) / 1024;
    if (monRss.length) memory.monitorRssMiB = median(monRss) / 1024;
    for (const id of detached.splice(0)) await native.terminate(id).catch(() => {});
    // a 1 MiB memory limit
    try {
      const st = await native.run(cmd(`${tag}one`, { mode: 'none' }, { resources: { memory: MiB } }));
      memory.oneMiB['library (native)'] = st.exitCode === 0 ? 'ok' : `exit ${st.exitCode}${st.oomKilled ? ' (OOM-killed)' : ''}`;
    } catch (e) {
      memory.oneMiB['library (native)'] = `refused: ${(e as Error).message.split('\n')[0]}`;
    }
    for (const [name, argv] of [
      ['runc', ['runc', '--root', runcRoot, 'run', '--bundle', bundle('runc-1m', ['/bin/true'], MiB), `${tag}r1m`]],
      ['crun', crunInNs(`exec crun --root ${crunRoot} run --bundle ${bundle('crun-1m', ['/bin/true'], MiB)} ${tag}k1m`)],
    ] as const) {
      const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
      memory.oneMiB[name] = r.status === 0 ? 'ok' : `exit ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().split('\n').pop()?.slice(0, 120) ?? ''}`;
    }
  } finally {
    for (const id of detached) await native.terminate(id).catch(() => {});
    for (const c of await native.list().catch(() => [])) await native.delete(c.id, { force: true }).catch(() => {});
    const cli = createDriver('native', { root: cliRoot });
    for (const c of await cli.list().catch(() => [])) await cli.delete(c.id, { force: true }).catch(() => {});
    const r = spawnSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' });
    for (const id of (r.stdout ?? '').split('\n').filter(Boolean)) spawnSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
    spawnSync('unshare', crunInNs(`for id in $(crun --root ${crunRoot} list -q 2>/dev/null); do crun --root ${crunRoot} delete -f "$id"; done`).slice(1), { stdio: 'ignore' });
    sweepCgroups(
      [tag],
      [
        { parent: 'execdriver', prefix: tag },
        { parent: '.', prefix: tag },
        { parent: '.', prefix: `lxc.payload.${tag}` },
        { parent: '.', prefix: `lxc.monitor.${tag}` },
        { parent: 'lxc.payload', prefix: tag },
      ],
    );
    if (bridgeMade || linkExists(bridge)) deleteBridge(bridge);
    rmSync(tmp, { recursive: true, force: true });
    rootfs.cleanup();
  }
  const by = (n: string) => rows.find((r) => r.name === n)?.perSecond;
  const lib = by('library driver.run() (native)');
  const crun = by('crun run');
  if (lib && crun) notes.push(`library / crun, containers per second: ${fmt(lib / crun, 2)}x`);
  const mib = (x: number | undefined) => (x === undefined ? '-' : `${fmt(x, 2)} MiB`);
  const text = [
    `throughput: ${N} containers of /bin/true, ${P} at a time (the best of 2 rounds); load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
    table(['name', 'seconds', 'containers/s'], rows.map((r) => [r.name, fmt(r.seconds, 2), fmt(r.perSecond, 1)])),
    ...notes.map((n) => `  ${n}`),
    `memory: peak RSS of execdriver --help ${mib(memory.cliHelpPeakMiB)}, of execdriver run ${mib(memory.cliRunPeakMiB)}; ` +
      `the monitor of a running container: peak ${mib(memory.monitorPeakMiB)}, now ${mib(memory.monitorRssMiB)}`,
    `a container under a 1 MiB memory limit: ${Object.entries(memory.oneMiB).map(([k, v]) => `${k}: ${v}`).join('; ')}`,
  ].join('\n');
  return { rows, memory, notes, text };
}
