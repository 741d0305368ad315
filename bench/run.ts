/**
 * `npm run bench`: container start+exit latency of busybox `/bin/true` on equivalent configurations
 * (namespaces mnt/uts/ipc/pid/net, a cgroup without limits, pivot_root, no network), in one run:
 * runc, crun, execdriver's command line, its library (driver.run() in this process), LXC, and
 * bridge networking when the drivers have it.
 *
 * BENCH_BRIDGE=NAME names the bridges (NAME0 here, NAME1 in the throughput part).
 *
 *   node dist/bench/run.js [--runs N] [--warmup N] [--trace] [--only exec|throughput]      (or BENCH_RUNS=N)
 *                          [--containers N] [--parallel N]   (the throughput part: 100, 8)
 *
 * --trace: afterwards, as many library runs again with EXECDRIVER_TRACE=1, and the median time of
 * each phase of the native driver's start and exit (see trace() in src/native/driver.ts).
 *
 * Command-line candidates are timed with spawnSync (wall clock around the whole invocation);
 * the library with process.hrtime.bigint() around each `await driver.run()`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { LineChild } from './line-child.js';
import { fileURLToPath } from 'node:url';
import type { Command, ManagedDriver, NetworkConfig } from '../src/driver.js';
import { createDriver, createDriverFrom, driverNames } from '../src/index.js';
import { formatCidr, formatIPv4, hostUsedCidrs, overlaps, parseCidr } from '../src/network/subnet.js';
import { makeRootfs } from '../test/helpers.js';
import { deleteBridge, ip, linkExists, sweepCgroups } from './cleanup.js';
import { lxcConfig, ociConfig } from './configs.js';
import { fmt, summarize, table, type Summary } from './stats.js';
import { execBench, execBenchMain } from './exec.js';
import { throughputBench, type ThroughputResult } from './throughput.js';
import { benchChart } from './chart.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const REPO = resolve(HERE, '../..');
const CLI = join(REPO, 'bin/execdriver');
const SELF = fileURLToPath(import.meta.url);
const UNIFIED = '/sys/fs/cgroup/unified';
const SPAWN_TIMEOUT = 60_000;

const METHOD =
  'own harness, no hyperfine. Command-line candidates: spawnSync wall clock per invocation (fork+exec of the tool ' +
  'included, stdio to /dev/null). Library: process.hrtime.bigint() around each await driver.run() in this process. ' +
  'crun: the same spawnSync timing, done by a bench child started once in a private mount namespace with ' +
  `${UNIFIED} unmounted (unshare -m; that setup is not timed). Candidates interleaved round-robin, warm-up rounds dropped.`;

class Interrupted extends Error {}

let stopRequested = false;
const log = (s: string) => process.stderr.write(`${s}\n`);

// ---------------------------------------------------------------- timing

/**
 * The environment of the execdriver command line: without NODE_EXTRA_CA_CERTS, which makes every
 * Node start load a certificate bundle (over 100 ms on the machine this bench was written on) and
 * has nothing to do with containers.
 */
const CLI_ENV: NodeJS.ProcessEnv = { ...process.env };
delete CLI_ENV['NODE_EXTRA_CA_CERTS'];
delete CLI_ENV['EXECDRIVER_TRACE'];

/** Run a command to completion; its wall-clock time in ms. Throws unless it exits with `expect`. */
function timeSpawn(file: string, args: string[], expect = 0, env?: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: SPAWN_TIMEOUT,
    killSignal: 'SIGKILL',
    ...(env ? { env } : {}),
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error) throw new Error(`${file} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== expect) {
    const why = r.signal ? `signal ${r.signal}` : `exit ${r.status}`;
    throw new Error(`${file} ${args.join(' ')}: ${why} (expected ${expect}): ${r.stderr.toString().trim().slice(0, 500)}`);
  }
  return ms;
}

/** One thing measured: `one(round)` starts and waits for one container, returning its time in ms. */
interface Candidate {
  name: string;
  one: (round: number) => number | Promise<number>;
  samples: number[];
}

/**
 * Round-robin: every round runs each candidate once (the order rotating from round to round), so
 * that a change in the machine's load during the bench affects every candidate alike. The first
 * `warmup` rounds are not kept.
 */
async function measure(cands: Candidate[], runs: number, warmup: number): Promise<void> {
  const total = warmup + runs;
  for (let round = 0; round < total; round++) {
    for (let k = 0; k < cands.length; k++) {
      if (stopRequested) throw new Interrupted();
      const c = cands[(round + k) % cands.length];
      if (!c) continue;
      const ms = await c.one(round);
      if (round >= warmup) c.samples.push(ms);
    }
    if ((round + 1) % 10 === 0 || round + 1 === total) log(`  round ${round + 1}/${total}`);
  }
}

// ---------------------------------------------------------------- crun, inside a namespace without cgroup2

interface CrunJob {
  crunRoot: string;
  bundle: string;
  checkBundle: string;
  idPrefix: string;
}

function isMountpoint(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === path);
}

function crunDeleteAll(crunRoot: string): void {
  const r = spawnSync('crun', ['--root', crunRoot, 'list', '-q'], { encoding: 'utf8', timeout: SPAWN_TIMEOUT });
  for (const id of (r.stdout ?? '').split('\n').filter(Boolean)) {
    spawnSync('crun', ['--root', crunRoot, 'delete', '-f', id], { stdio: 'ignore', timeout: SPAWN_TIMEOUT });
  }
}

/**
 * The bench child that runs crun, started once by `unshare -m --propagation private`: it unmounts
 * cgroup2 in its own mount namespace, checks that crun runs a container (exit 3 of `sh -c 'exit 3'`
 * comes back), says `ready`, then for each `run N` line on stdin times one `crun run` (spawnSync,
 * like every other command-line candidate) and answers the ms. Ends, deleting any crun state, when
 * stdin closes.
 */
async function crunChild(jobFile: string): Promise<void> {
  const job = JSON.parse(readFileSync(jobFile, 'utf8')) as CrunJob;
  // a terminal's Ctrl-C reaches us too: the parent decides when to stop (it closes stdin)
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  const say = (line: string) => process.stdout.write(`${line}\n`);
  try {
    if (isMountpoint(UNIFIED)) {
      const u = spawnSync('umount', [UNIFIED], { encoding: 'utf8' });
      if (u.status !== 0) throw new Error(`umount ${UNIFIED}: ${u.stderr.trim()}`);
    }
    timeSpawn('crun', ['--root', job.crunRoot, 'run', '--bundle', job.checkBundle, `${job.idPrefix}check`], 3);
    say('ready');
    for await (const line of createInterface({ input: process.stdin })) {
      const m = /^run (\d+)$/.exec(line);
      if (!m) continue;
      try {
        say(String(timeSpawn('crun', ['--root', job.crunRoot, 'run', '--bundle', job.bundle, `${job.idPrefix}${m[1]}`])));
      } catch (e) {
        say(`error ${(e as Error).message.replace(/\n/g, ' ')}`);
      }
    }
  } catch (e) {
    say(`error ${(e as Error).message.replace(/\n/g, ' ')}`);
  } finally {
    crunDeleteAll(job.crunRoot);
  }
}

/** The parent's side of the crun child. */
class CrunServer extends LineChild {
  static async start(jobFile: string): Promise<CrunServer> {
    const child = spawn('unshare', ['--mount', '--propagation', 'private', process.execPath, SELF, '--crun-child', jobFile], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const s = new CrunServer(child);
    const first = await s.next();
    if (first !== 'ready') {
      await s.stop();
      throw new Error(`crun: ${first ?? 'the bench child exited'}`);
    }
    return s;
  }

  run(round: number): Promise<number> {
    return this.ask(`run ${round}`, 'crun');
  }
}

let crunServer: CrunServer | undefined;

// ---------------------------------------------------------------- the bench

interface Options {
  runs: number;
  warmup: number;
  trace: boolean;
  /** the throughput part: how many containers, how many at a time */
  containers: number;
  parallel: number;
}

function parseOptions(argv: string[]): Options {
  const num = (flag: string, fallback: number): number => {
    const i = argv.indexOf(flag);
    const text = i >= 0 ? argv[i + 1] : undefined;
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: expected a non-negative integer, got ${text}`);
    return n;
  };
  const envRuns = Number(process.env['BENCH_RUNS'] ?? '');
  const runs = num('--runs', Number.isInteger(envRuns) && envRuns > 0 ? envRuns : 50);
  if (runs < 1) throw new Error('--runs must be at least 1');
  return { runs, warmup: num('--warmup', 3), trace: argv.includes('--trace'), containers: num('--containers', 100), parallel: Math.max(1, num('--parallel', 8)) };
}

/** A /24 in 10.213.0.0/16 (then 10.214…) that overlaps no address, route or name server of the host. */
async function freeSubnet(): Promise<string> {
  const used = (await hostUsedCidrs()).map((c) => parseCidr(c.includes('/') ? c : `${c}/32`));
  for (const second of [213, 214, 215]) {
    for (let third = 0; third < 256; third++) {
      const cand = parseCidr(`10.${second}.${third}.0/24`);
      if (!used.some((u) => overlaps(u, cand))) return formatCidr(cand);
    }
  }
  throw new Error('no free /24 for the test bridge');
}

/** A command that succeeds when the container has an IPv4 address in `subnet` (a /24). */
function hasAddressIn(subnet: string): string[] {
  const prefix = subnet.split('.').slice(0, 3).join('.');
  return ['/bin/sh', '-c', `ip -4 addr | grep -q "inet ${prefix}\\."`];
}

/** Phase timings of the native driver (EXECDRIVER_TRACE=1 lines on stderr) over a series of runs. */
async function tracedSeries(runs: number, one: (i: number) => Promise<number>): Promise<{ phases: Map<string, number[]>; totals: number[] }> {
  const phases = new Map<string, number[]>();
  const totals: number[] = [];
  const stderr = process.stderr as unknown as { write: (chunk: unknown, ...rest: unknown[]) => boolean };
  const original = stderr.write;
  stderr.write = (chunk: unknown, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString();
    if (!text.startsWith('execdriver-trace ')) return original.call(process.stderr, chunk, ...rest);
    for (const part of text.trim().split(' ').slice(2)) {
      const [k = '?', v = 'NaN'] = part.split('=');
      phases.set(k, [...(phases.get(k) ?? []), Number(v)]);
    }
    return true;
  };
  process.env['EXECDRIVER_TRACE'] = '1';
  try {
    for (let i = 0; i < runs; i++) {
      if (stopRequested) throw new Interrupted();
      totals.push(await one(i));
    }
  } finally {
    delete process.env['EXECDRIVER_TRACE'];
    stderr.write = original;
  }
  return { phases, totals };
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    log('bench: must run as root');
    return 1;
  }
  // `--only exec|throughput`: only that part (bench/exec.ts, bench/throughput.ts)
  if (process.argv.includes('--only')) {
    const only = process.argv[process.argv.indexOf('--only') + 1];
    if (only === 'throughput') return throughputMain(opts);
    if (only !== 'exec') throw new Error(`--only: the parts that run alone are exec and throughput, not ${only}`);
    return execBenchMain(opts);
  }
  const tag = `eb${process.pid.toString(36)}`;
  const tmp = mkdtempSync('/tmp/execdriver-bench-');
  chmodSync(tmp, 0o711); // the state root: a --userns=remap container's root walks through it to its overlay
  const bridge = (process.env['BENCH_BRIDGE'] ? `${process.env['BENCH_BRIDGE']}0` : `ebr${process.pid.toString(36)}`).slice(0, 15);
  let rootfs: { dir: string; cleanup: () => void } | undefined;
  const driverRoots: Array<{ driver: string; root: string }> = [];
  const results: Summary[] = [];
  const notes: string[] = [];
  const checks: string[] = [];
  let bridgeMade = false;
  let nativeBridge = false;
  let cleaned = false;
  const traces: Array<{ name: string; phases: Map<string, number[]>; totals: number[] }> = [];
  const loadStart = loadavg();

  const runcRoot = join(tmp, 'runc-state');
  const crunRoot = join(tmp, 'crun-state');
  const lxcPath = join(tmp, 'lxcpath');

  /** Everything that can be done synchronously (also from a second Ctrl-C). */
  const cleanupSync = (): string[] => {
    const leaks: string[] = [];
    if (existsSync(runcRoot)) {
      const r = spawnSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8', timeout: SPAWN_TIMEOUT });
      for (const id of (r.stdout ?? '').split('\n').filter(Boolean)) {
        leaks.push(`runc container ${id}`);
        spawnSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore', timeout: SPAWN_TIMEOUT });
      }
    }
    if (existsSync(crunRoot) && readdirSync(crunRoot).some((f) => f.startsWith(tag))) {
      leaks.push('crun state');
      spawnSync(
        'unshare',
        ['--mount', '--propagation', 'private', 'sh', '-c', `umount ${UNIFIED} 2>/dev/null; for id in $(crun --root "$1" list -q); do crun --root "$1" delete -f "$id"; done`, 'sh', crunRoot],
        { stdio: 'ignore', timeout: SPAWN_TIMEOUT },
      );
    }
    const swept = sweepCgroups(
      [tag],
      [
        { parent: 'execdriver', prefix: tag },
        { parent: '.', prefix: `lxc.payload.${tag}` },
        { parent: '.', prefix: `lxc.monitor.${tag}` },
        { parent: 'lxc.payload', prefix: tag },
      ],
    );
    leaks.push(...swept.found.map((c) => `cgroup ${c}`));
    leaks.push(...swept.failed.map((c) => `cgroup NOT REMOVED ${c}`));
    if (bridgeMade || linkExists(bridge)) {
      for (const v of deleteBridge(bridge)) leaks.push(`veth ${v}`);
      if (linkExists(bridge)) leaks.push(`bridge NOT REMOVED ${bridge}`);
    }
    // processes still running a command that names the bench's directory
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      if (Number(pid) === process.pid) continue;
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (cmdline.includes(tmp) || (rootfs && cmdline.includes(rootfs.dir))) {
        leaks.push(`process ${pid} ${cmdline.split('\0').join(' ').trim().slice(0, 80)}`);
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    rmSync(tmp, { recursive: true, force: true });
    rootfs?.cleanup();
    return leaks;
  };

  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    const leaks: string[] = [];
    for (const { driver, root } of driverRoots) {
      try {
        const d = createDriverFrom(driver, { root });
        for (const c of await d.list()) {
          leaks.push(`${driver} container ${c.id} (${c.status})`);
          await d.delete(c.id, { force: true }).catch(() => {});
        }
      } catch {
        /* the sweep below still removes cgroups */
      }
    }
    leaks.push(...cleanupSync());
    cleaned = true;
    log(leaks.length ? `cleanup: removed what was left behind:\n  ${leaks.join('\n  ')}` : 'cleanup: nothing was left behind');
  };

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    stopRequested = true;
    if (signals === 1) {
      log(`\n${sig}: stopping after the current run, then cleaning up (again to force)`);
      return;
    }
    if (!cleaned) {
      cleaned = true;
      crunServer?.child.kill('SIGKILL');
      const leaks = cleanupSync();
      log(leaks.length ? `cleanup (forced): removed ${leaks.join(', ')}` : 'cleanup (forced): nothing was left behind');
    }
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  try {
    rootfs = makeRootfs();
    const R = rootfs.dir;
    mkdirSync(lxcPath);
    log(`bench: ${opts.runs} runs, ${opts.warmup} warm-up rounds; rootfs ${R}; ids ${tag}*`);
    const cands: Candidate[] = [];
    const add = (name: string, one: (round: number) => number | Promise<number>) => cands.push({ name, one, samples: [] });

    // --- runc
    const bundle = (name: string, args: string[]) => {
      const dir = join(tmp, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'config.json'), JSON.stringify(ociConfig({ rootfs: R, args, cgroupsPath: `/${tag}/${name}` }), null, 2));
      return dir;
    };
    const runcBundle = bundle('runc', ['/bin/true']);
    const runcCheck = bundle('runc-check', ['/bin/sh', '-c', 'exit 3']);
    timeSpawn('runc', ['--root', runcRoot, 'run', '--bundle', runcCheck, `${tag}rcheck`], 3);
    checks.push('runc: exit 3 of `sh -c "exit 3"` propagated');
    add('runc run', (i) => timeSpawn('runc', ['--root', runcRoot, 'run', '--bundle', runcBundle, `${tag}r${i}`]));

    // --- crun
    const jobFile = join(tmp, 'crun-job.json');
    const job: CrunJob = { crunRoot, bundle: bundle('crun', ['/bin/true']), checkBundle: bundle('crun-check', ['/bin/sh', '-c', 'exit 3']), idPrefix: `${tag}k` };
    writeFileSync(jobFile, JSON.stringify(job));
    crunServer = await CrunServer.start(jobFile);
    const crun = crunServer;
    checks.push(`crun: exit 3 propagated, inside unshare -m with ${UNIFIED} unmounted`);
    add('crun run', (i) => crun.run(i));

    // --- execdriver, command line
    const cliRoot = join(tmp, 'cli-root');
    driverRoots.push({ driver: 'native', root: cliRoot });
    const cliArgs = (id: string, driver: string | undefined, root: string, argv: string[]) => [
      '--root',
      root,
      ...(driver ? ['--driver', driver] : []),
      'run',
      '--net',
      'none',
      '--rootfs',
      R,
      '--id',
      id,
      '--',
      ...argv,
    ];
    timeSpawn(CLI, cliArgs(`${tag}ccheck`, undefined, cliRoot, ['/bin/sh', '-c', 'exit 3']), 3, CLI_ENV);
    checks.push('execdriver CLI: exit 3 propagated');
    add('execdriver run (CLI)', (i) => timeSpawn(CLI, cliArgs(`${tag}c${i}`, undefined, cliRoot, ['/bin/true']), 0, CLI_ENV));
    // start-up (issue 13): Node's own floor, the command line that runs no container, and the bare
    // kernel floor of the same namespaces (no cgroup, no pivot_root, no devices: a lower bound)
    add('bare unshare (floor)', () =>
      timeSpawn('unshare', ['-m', '-u', '-i', '-p', '-n', '-C', '--fork', '--mount-proc', '/bin/true']),
    );
    add('node -e 0', () => timeSpawn(process.execPath, ['-e', '0'], 0, CLI_ENV));
    add('execdriver --help', () => timeSpawn(CLI, ['--help'], 0, CLI_ENV));

    // --- execdriver, library
    const libRoot = join(tmp, 'lib-root');
    driverRoots.push({ driver: 'native', root: libRoot });
    const native = createDriver('native', { root: libRoot });
    const libCommand = (id: string, argv: string[], network: NetworkConfig = { mode: 'none' }): Command => ({
      id,
      rootfs: R,
      entrypoint: argv[0] ?? '/bin/true',
      arguments: argv.slice(1),
      network,
    });
    const timeLib = async (d: ManagedDriver, cmd: Command, expect = 0): Promise<number> => {
      const t0 = process.hrtime.bigint();
      const st = await d.run(cmd);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (st.exitCode !== expect) throw new Error(`${d.name()} ${cmd.id}: exit ${st.exitCode}, expected ${expect}`);
      return ms;
    };
    await timeLib(native, libCommand(`${tag}lcheck`, ['/bin/sh', '-c', 'exit 3']), 3);
    checks.push('library (native): exit 3 propagated');
    add('library driver.run() (native)', (i) => timeLib(native, libCommand(`${tag}l${i}`, ['/bin/true'])));
    // what the security defaults cost (issue 8): the same run without the seccomp filter, and with a user namespace
    add('library driver.run() (native, seccomp unconfined)', (i) =>
      timeLib(native, { ...libCommand(`${tag}u${i}`, ['/bin/true']), seccomp: 'unconfined' }),
    );
    add('library driver.run() (native, --userns=remap)', (i) => timeLib(native, { ...libCommand(`${tag}n${i}`, ['/bin/true']), userns: 'remap' }));

    // --- lxc-execute (the baseline for the lxc driver and for networking)
    const lxcNoneConf = join(tmp, 'lxc-none.conf');
    writeFileSync(lxcNoneConf, lxcConfig({ rootfs: R }));
    const lxcExec = (id: string, conf: string, argv: string[], expect = 0) =>
      timeSpawn('lxc-execute', ['-n', id, '-P', lxcPath, '-f', conf, '--', ...argv], expect);
    lxcExec(`${tag}xcheck`, lxcNoneConf, ['/bin/sh', '-c', 'exit 3'], 3);
    checks.push('lxc-execute: exit 3 propagated');
    add('lxc-execute', (i) => lxcExec(`${tag}x${i}`, lxcNoneConf, ['/bin/true']));

    // --- the lxc driver (issue 4)
    const lxcSources = join(REPO, 'src/lxc');
    const lxcBuilt = existsSync(lxcSources) && readdirSync(lxcSources).some((f) => f.endsWith('.ts')) && driverNames().includes('lxc');
    if (!lxcBuilt) {
      log('lxc driver: not built yet');
      notes.push('lxc driver: not built yet (src/lxc/ empty or the driver not registered); skipped');
    } else {
      const lxcCliRoot = join(tmp, 'lxc-cli-root');
      const lxcLibRoot = join(tmp, 'lxc-lib-root');
      driverRoots.push({ driver: 'lxc', root: lxcCliRoot }, { driver: 'lxc', root: lxcLibRoot });
      timeSpawn(CLI, cliArgs(`${tag}dcheck`, 'lxc', lxcCliRoot, ['/bin/sh', '-c', 'exit 3']), 3, CLI_ENV);
      add('execdriver --driver lxc run (CLI)', (i) => timeSpawn(CLI, cliArgs(`${tag}d${i}`, 'lxc', lxcCliRoot, ['/bin/true']), 0, CLI_ENV));
      const lxcDriver = createDriver('lxc', { root: lxcLibRoot });
      await timeLib(lxcDriver, libCommand(`${tag}mcheck`, ['/bin/sh', '-c', 'exit 3']), 3);
      checks.push('lxc driver (CLI and library): exit 3 propagated');
      add('library driver.run() (lxc)', (i) => timeLib(lxcDriver, libCommand(`${tag}m${i}`, ['/bin/true'])));
      add('library driver.run() (lxc, seccomp unconfined)', (i) =>
        timeLib(lxcDriver, { ...libCommand(`${tag}k${i}`, ['/bin/true']), seccomp: 'unconfined' }),
      );
    }

    // --- bridge networking (issue 3): a bridge of our own, a subnet nothing on the host uses, no NAT, no route out
    const subnet = await freeSubnet();
    const net = parseCidr(subnet);
    const gw = formatIPv4(net.network + 1);
    const containerIp = formatIPv4(net.network + 2);
    bridgeMade = true;
    for (const args of [
      ['link', 'add', 'name', bridge, 'type', 'bridge'],
      ['addr', 'add', `${gw}/${net.prefixLen}`, 'dev', bridge],
      ['link', 'set', bridge, 'up'],
    ]) {
      const r = ip(args);
      if (!r.ok) throw new Error(`ip ${args.join(' ')}: ${r.err.trim()}`);
    }
    try {
      writeFileSync(`/proc/sys/net/ipv6/conf/${bridge}/disable_ipv6`, '1'); // no IPv6 chatter on the test bridge
    } catch {
      /* no IPv6 */
    }
    const bridgeNet: NetworkConfig = { mode: 'bridge', bridge, subnet };
    let why = '';
    try {
      const st = await native.run(libCommand(`${tag}bcheck`, hasAddressIn(subnet), bridgeNet));
      nativeBridge = st.exitCode === 0;
      if (!nativeBridge) why = `the container had no address in ${subnet}`;
    } catch (e) {
      why = (e as Error).message.split('\n')[0] ?? '';
    }
    if (!nativeBridge) {
      log(`bridge networking: the native driver does not support it yet (${why}); skipped`);
      notes.push(`bridge networking: native driver not ready (${why}); skipped`);
    } else {
      checks.push(`library (native) bridge: the container has an address in ${subnet} (bridge ${bridge})`);
      add('library driver.run() (native, bridge)', (i) => timeLib(native, libCommand(`${tag}b${i}`, ['/bin/true'], bridgeNet)));
      const lxcBridgeConf = join(tmp, 'lxc-bridge.conf');
      writeFileSync(lxcBridgeConf, lxcConfig({ rootfs: R, veth: { bridge, address: `${containerIp}/${net.prefixLen}`, gateway: gw } }));
      lxcExec(`${tag}vcheck`, lxcBridgeConf, hasAddressIn(subnet), 0);
      checks.push(`lxc-execute bridge: the container has ${containerIp}`);
      add('lxc-execute (veth on bridge)', (i) => lxcExec(`${tag}v${i}`, lxcBridgeConf, ['/bin/true']));
    }

    log(`measuring ${cands.length} candidates, interleaved: ${cands.map((c) => c.name).join(', ')}`);
    await measure(cands, opts.runs, opts.warmup);
    for (const c of cands) results.push(summarize(c.name, c.samples));

    // --- where the library's time goes (EXECDRIVER_TRACE=1)
    if (opts.trace) {
      traces.push({
        name: 'library (native, none)',
        ...(await tracedSeries(opts.runs, (i) => timeLib(native, libCommand(`${tag}tn${i}`, ['/bin/true'])))),
      });
      if (nativeBridge) {
        traces.push({
          name: 'library (native, bridge)',
          ...(await tracedSeries(opts.runs, (i) => timeLib(native, libCommand(`${tag}tb${i}`, ['/bin/true'], bridgeNet)))),
        });
      }
      log(`  traced: ${traces.map((t) => t.name).join(', ')}`);
    }
  } catch (e) {
    // a run that failed because the Ctrl-C reached it too is part of the interruption
    if (!(e instanceof Interrupted) && !stopRequested) {
      log(`bench failed: ${(e as Error).stack ?? e}`);
      process.exitCode = 1;
    }
  } finally {
    await crunServer?.stop();
    crunServer = undefined;
    await cleanup();
  }
  if (stopRequested) return 130;
  if (process.exitCode) return Number(process.exitCode);

  // ---------------------------------------------------------------- report
  const by = (name: string) => results.find((r) => r.name === name);
  const ratio = (a: string, b: string) => {
    const x = by(a);
    const y = by(b);
    return x && y ? x.median / y.median : undefined;
  };
  const ratios: Record<string, number> = {};
  const addRatio = (label: string, v: number | undefined) => {
    if (v !== undefined) ratios[label] = v;
  };
  addRatio('library / crun', ratio('library driver.run() (native)', 'crun run'));
  addRatio('CLI / crun', ratio('execdriver run (CLI)', 'crun run'));
  addRatio('library / bare unshare', ratio('library driver.run() (native)', 'bare unshare (floor)'));
  addRatio('execdriver --help / node -e 0', ratio('execdriver --help', 'node -e 0'));
  const cliRun = by('execdriver run (CLI)');
  const nodeFloor = by('node -e 0');
  const libRun = by('library driver.run() (native)');
  const startup: Record<string, number> = {};
  if (cliRun && nodeFloor && libRun) startup['CLI run − (node -e 0 + library run), ms'] = cliRun.median - nodeFloor.median - libRun.median;
  addRatio('library / runc', ratio('library driver.run() (native)', 'runc run'));
  addRatio('CLI / runc', ratio('execdriver run (CLI)', 'runc run'));
  addRatio('lxc driver CLI / lxc-execute', ratio('execdriver --driver lxc run (CLI)', 'lxc-execute'));
  addRatio('lxc driver library / lxc-execute', ratio('library driver.run() (lxc)', 'lxc-execute'));
  addRatio('native --userns=remap / plain', ratio('library driver.run() (native, --userns=remap)', 'library driver.run() (native)'));
  const security: Record<string, number> = {};
  const secCost = (label: string, withIt: string, without: string) => {
    const a = by(withIt);
    const b = by(without);
    if (a && b) security[label] = a.median - b.median;
  };
  secCost('seccomp filter, native library, ms', 'library driver.run() (native)', 'library driver.run() (native, seccomp unconfined)');
  secCost('seccomp filter, lxc library, ms', 'library driver.run() (lxc)', 'library driver.run() (lxc, seccomp unconfined)');
  const networking: Record<string, number> = {};
  const nb = by('library driver.run() (native, bridge)');
  const nn = by('library driver.run() (native)');
  const lb = by('lxc-execute (veth on bridge)');
  const ln = by('lxc-execute');
  if (nb && nn) networking['native (library), ms'] = nb.median - nn.median;
  if (lb && ln) networking['lxc-execute, ms'] = lb.median - ln.median;
  const nCost = networking['native (library), ms'];
  const lCost = networking['lxc-execute, ms'];
  if (nCost !== undefined && lCost !== undefined) addRatio('networking cost native / lxc-execute', nCost / lCost);

  const out: string[] = [];
  out.push(`execdriver bench — busybox /bin/true, ${opts.runs} runs (+${opts.warmup} warm-up) each`);
  const loadEnd = loadavg();
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  out.push(`host: Linux ${release()}, ${cpus().length} CPUs, Node ${process.version}; load average ${la(loadStart)} at start, ${la(loadEnd)} at end`);
  out.push(`timing: ${METHOD}`);
  if (process.env['NODE_EXTRA_CA_CERTS']) out.push('note: NODE_EXTRA_CA_CERTS is removed from the environment of the execdriver CLI runs');
  out.push('');
  out.push(
    table(
      ['name', 'runs', 'median ms', 'p90 ms', 'min ms', 'max ms'],
      results.map((r) => [r.name, String(r.runs), fmt(r.median), fmt(r.p90), fmt(r.min), fmt(r.max)]),
    ),
  );
  out.push('');
  if (Object.keys(security).length) {
    out.push('cost of the security defaults (difference of medians):');
    for (const [k, v] of Object.entries(security)) out.push(`  ${k.padEnd(50)} ${fmt(v, 2)}`);
  }
  out.push('ratios of medians:');
  for (const [k, v] of Object.entries(ratios)) out.push(`  ${k.padEnd(38)} ${fmt(v, 2)}x`);
  for (const [k, v] of Object.entries(startup)) out.push(`  ${k.padEnd(38)} ${fmt(v)}`);
  if (Object.keys(networking).length) {
    out.push('networking cost per container (median bridge − median none):');
    for (const [k, v] of Object.entries(networking)) out.push(`  ${k.padEnd(38)} ${fmt(v)}`);
  }
  const traceJson: Record<string, Record<string, number>> = {};
  for (const t of traces) {
    out.push(`phases of the native driver, ${t.name} (EXECDRIVER_TRACE=1, ${t.totals.length} runs, median ms):`);
    const med: Record<string, number> = {};
    let sum = 0;
    for (const [phase, xs] of t.phases) {
      const m = summarize(phase, xs).median;
      med[phase] = m;
      sum += m;
      out.push(`  ${phase.padEnd(24)} ${fmt(m, 2).padStart(8)}`);
    }
    const total = summarize('total', t.totals).median;
    med['driver.run() total'] = total;
    out.push(`  ${'sum of phase medians'.padEnd(24)} ${fmt(sum, 2).padStart(8)}`);
    out.push(`  ${'driver.run() median'.padEnd(24)} ${fmt(total, 2).padStart(8)}`);
    traceJson[t.name] = med;
  }
  out.push('checks:');
  for (const c of checks) out.push(`  ${c}`);
  if (notes.length) {
    out.push('skipped:');
    for (const n of notes) out.push(`  ${n}`);
  }
  process.stdout.write(out.join('\n') + '\n');
  // exec into a running container (issue 9), side by side with runc/crun exec and lxc-attach
  const execPart = await execBench(opts);
  process.stdout.write(`\n${execPart.text}\n`);
  // throughput and memory (issue 13)
  const tp = await throughputBench(opts);
  process.stdout.write(`\n${tp.text}\n`);

  const resultsDir = join(REPO, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, 'latest.json');
  writeFileSync(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        host: { kernel: release(), cpus: cpus().length, node: process.version },
        method: METHOD,
        runs: opts.runs,
        warmup: opts.warmup,
        results,
        ratios,
        security,
        networkingCostMs: networking,
        startupMs: startup,
        phaseMediansMs: traceJson,
        loadAverage: { start: loadStart, end: loadEnd },
        checks,
        skipped: notes,
        exec: { results: execPart.results, ratios: execPart.ratios },
        throughput: { rows: tp.rows, memory: tp.memory, notes: tp.notes },
      },
      null,
      2,
    ) + '\n',
  );
  writeChart(join(resultsDir, 'latest.svg'), results, tp, loadStart);
  log(`results written to ${file} and latest.svg`);
  return 0;
}

/** The SVG beside the JSON: latency medians and p90s, and the throughput when there is one. */
function writeChart(file: string, latency: Summary[], tp: ThroughputResult | undefined, load: number[]): void {
  const p = tp?.rows[0]?.parallel;
  const svg = benchChart({
    title: `execdriver bench, ${new Date().toISOString().slice(0, 10)}: Linux ${release()}, ${cpus().length} CPUs, Node ${process.version}, load ${load.map((x) => x.toFixed(1)).join(' ')}`,
    latency,
    ...(tp ? { throughput: tp.rows.map((r) => ({ name: r.name, value: r.perSecond })), throughputTitle: `throughput: ${tp.rows[0]?.containers ?? 0} containers of /bin/true, ${p} at a time, containers per second (more is better)` } : {}),
  });
  writeFileSync(file, svg);
}

/** `--only throughput`: that part alone; bench/results/throughput.json and, with latest.json's latencies, latest.svg. */
async function throughputMain(opts: Options): Promise<number> {
  const tp = await throughputBench(opts);
  process.stdout.write(`${tp.text}\n`);
  const dir = join(REPO, 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'throughput.json'), JSON.stringify({ date: new Date().toISOString(), loadAverage: loadavg(), ...tp, text: undefined }, null, 2) + '\n');
  let latency: Summary[] = [];
  try {
    latency = (JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as { results: Summary[] }).results;
  } catch {
    /* no full run yet: the chart has the throughput only */
  }
  writeChart(join(dir, 'latest.svg'), latency, tp, loadavg());
  return 0;
}

const childAt = process.argv.indexOf('--crun-child');
if (childAt >= 0) {
  await crunChild(process.argv[childAt + 1] ?? '');
} else {
  process.exitCode = await main();
}
