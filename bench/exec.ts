/**
 * The exec part of the bench (issue 9): `/bin/true` exec'd into a running busybox container, side
 * by side: `runc exec`, `crun exec` (from a child in a mount namespace without the cgroup2 mount,
 * as run.ts runs crun), `lxc-attach`, the execdriver command line, and the library's
 * `driver.exec()` on both drivers. Interleaved round-robin, warm-up rounds dropped.
 *
 *   node dist/bench/run.js --only exec [--runs N]     (or as part of `npm run bench`)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { LineChild } from './line-child.js';
import { fileURLToPath } from 'node:url';
import type { ManagedDriver } from '../src/driver.js';
import { createDriver } from '../src/index.js';
import { makeRootfs } from '../test/helpers.js';
import { sweepCgroups } from './cleanup.js';
import { lxcConfig, ociConfig } from './configs.js';
import { fmt, summarize, table, type Summary } from './stats.js';

const SELF = fileURLToPath(import.meta.url);
const REPO = resolve(dirname(SELF), '../..');
const CLI = join(REPO, 'bin/execdriver');
const UNIFIED = '/sys/fs/cgroup/unified';
const log = (s: string) => process.stderr.write(`${s}\n`);

const CLI_ENV: NodeJS.ProcessEnv = { ...process.env };
delete CLI_ENV['NODE_EXTRA_CA_CERTS'];

function timeSpawn(file: string, args: string[], expect = 0, env?: NodeJS.ProcessEnv, quiet = false): number {
  const t0 = process.hrtime.bigint();
  // quiet: a detached start, whose container would keep a stderr pipe open
  const r = spawnSync(file, args, { stdio: ['ignore', 'ignore', quiet ? 'ignore' : 'pipe'], timeout: 60_000, killSignal: 'SIGKILL', ...(env ? { env } : {}) });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error) throw new Error(`${file} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== expect) throw new Error(`${file} ${args.join(' ')}: exit ${r.status ?? r.signal} (expected ${expect}): ${r.stderr?.toString().trim().slice(0, 300) ?? ''}`);
  return ms;
}

interface CrunExecJob {
  crunRoot: string;
  bundle: string;
  id: string;
}

/** The crun child: unmounts cgroup2 in its own mount namespace, starts the container, times `crun exec` per `exec` line. */
async function crunExecChild(jobFile: string): Promise<void> {
  const job = JSON.parse(readFileSync(jobFile, 'utf8')) as CrunExecJob;
  process.on('SIGINT', () => {});
  const say = (l: string) => process.stdout.write(`${l}\n`);
  try {
    if (readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === UNIFIED)) {
      const u = spawnSync('umount', [UNIFIED], { encoding: 'utf8' });
      if (u.status !== 0) throw new Error(`umount ${UNIFIED}: ${u.stderr.trim()}`);
    }
    timeSpawn('crun', ['--root', job.crunRoot, 'run', '--detach', '--bundle', job.bundle, job.id], 0, undefined, true);
    timeSpawn('crun', ['--root', job.crunRoot, 'exec', job.id, '/bin/sh', '-c', 'exit 3'], 3);
    say('ready');
    for await (const line of createInterface({ input: process.stdin })) {
      if (line !== 'exec') continue;
      try {
        say(String(timeSpawn('crun', ['--root', job.crunRoot, 'exec', job.id, '/bin/true'])));
      } catch (e) {
        say(`error ${(e as Error).message.replace(/\n/g, ' ')}`);
      }
    }
  } catch (e) {
    say(`error ${(e as Error).message.replace(/\n/g, ' ')}`);
  } finally {
    spawnSync('crun', ['--root', job.crunRoot, 'delete', '-f', job.id], { stdio: 'ignore' });
  }
}

/** The parent's side of the crun exec child. */
class CrunExec extends LineChild {
  exec(): Promise<number> {
    return this.ask('exec', 'crun exec');
  }
}

export interface ExecBenchResult {
  results: Summary[];
  ratios: Record<string, number>;
  text: string;
}

/** Measure exec latency; cleans up everything it made. */
export async function execBench(opts: { runs: number; warmup: number }): Promise<ExecBenchResult> {
  const tag = `ex${process.pid.toString(36)}`;
  const tmp = mkdtempSync('/tmp/execdriver-bench-exec-');
  const rootfs = makeRootfs();
  const R = rootfs.dir;
  const runcRoot = join(tmp, 'runc');
  const crunRoot = join(tmp, 'crun');
  const lxcPath = join(tmp, 'lxcpath');
  mkdirSync(lxcPath);
  const libRoot = join(tmp, 'lib-root');
  const lxcRoot = join(tmp, 'lxc-root');
  let crun: CrunExec | undefined;
  const drivers: Array<[ManagedDriver, string]> = [];
  const cands: Array<{ name: string; one: () => number | Promise<number>; samples: number[] }> = [];
  const add = (name: string, one: () => number | Promise<number>) => cands.push({ name, one, samples: [] });
  const bundle = (name: string, args: string[]) => {
    const dir = join(tmp, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(ociConfig({ rootfs: R, args, cgroupsPath: `/${tag}/${name}` })));
    return dir;
  };
  const lxcId = `${tag}x`;
  try {
    // runc
    const runcId = `${tag}r`;
    timeSpawn('runc', ['--root', runcRoot, 'run', '--detach', '--bundle', bundle('runc', ['/bin/sleep', '1000']), runcId], 0, undefined, true);
    timeSpawn('runc', ['--root', runcRoot, 'exec', runcId, '/bin/sh', '-c', 'exit 3'], 3);
    add('runc exec', () => timeSpawn('runc', ['--root', runcRoot, 'exec', runcId, '/bin/true']));
    // crun, from a child without the cgroup2 mount
    const jobFile = join(tmp, 'crun-job.json');
    writeFileSync(jobFile, JSON.stringify({ crunRoot, bundle: bundle('crun', ['/bin/sleep', '1000']), id: `${tag}k` } satisfies CrunExecJob));
    crun = new CrunExec(spawn('unshare', ['--mount', '--propagation', 'private', process.execPath, SELF, '--crun-exec-child', jobFile], { stdio: ['pipe', 'pipe', 'inherit'] }));
    const first = await crun.next();
    if (first !== 'ready') throw new Error(`crun: ${first ?? 'the child exited'}`);
    const c = crun;
    add('crun exec', () => c.exec());
    // lxc-attach into an lxc-start container
    const conf = join(tmp, 'lxc.conf');
    writeFileSync(conf, lxcConfig({ rootfs: R }));
    timeSpawn('lxc-start', ['-n', lxcId, '-P', lxcPath, '-f', conf, '-d', '--', '/bin/sleep', '1000'], 0, undefined, true);
    timeSpawn('lxc-wait', ['-n', lxcId, '-P', lxcPath, '-s', 'RUNNING', '-t', '10']);
    timeSpawn('lxc-attach', ['-n', lxcId, '-P', lxcPath, '--', '/bin/sh', '-c', 'exit 3'], 3);
    add('lxc-attach', () => timeSpawn('lxc-attach', ['-n', lxcId, '-P', lxcPath, '--', '/bin/true']));
    // execdriver: library (both drivers) and the command line
    for (const [name, root] of [['native', libRoot], ['lxc', lxcRoot]] as const) {
      const d = createDriver(name, { root });
      const id = `${tag}${name[0]}`;
      await d.start({ id, rootfs: R, entrypoint: '/bin/sleep', arguments: ['1000'], network: { mode: 'none' } }, { detach: true });
      drivers.push([d, id]);
      const check = await (await d.exec(id, { args: ['/bin/sh', '-c', 'exit 3'] })).exited;
      if (check.exitCode !== 3) throw new Error(`library exec (${name}): exit ${check.exitCode}, expected 3`);
      add(`library driver.exec() (${name})`, async () => {
        const t0 = process.hrtime.bigint();
        const st = await (await d.exec(id, { args: ['/bin/true'] })).exited;
        if (st.exitCode !== 0) throw new Error(`library exec (${name}): exit ${st.exitCode}`);
        return Number(process.hrtime.bigint() - t0) / 1e6;
      });
    }
    const nativeId = drivers[0]![1];
    timeSpawn(CLI, ['--root', libRoot, 'exec', nativeId, '--', '/bin/sh', '-c', 'exit 3'], 3, CLI_ENV);
    add('execdriver exec (CLI, native)', () => timeSpawn(CLI, ['--root', libRoot, 'exec', nativeId, '--', '/bin/true'], 0, CLI_ENV));

    log(`exec bench: ${cands.map((x) => x.name).join(', ')}; ${opts.runs} runs (+${opts.warmup} warm-up)`);
    for (let round = 0; round < opts.warmup + opts.runs; round++) {
      for (let k = 0; k < cands.length; k++) {
        const cand = cands[(round + k) % cands.length]!;
        const ms = await cand.one();
        if (round >= opts.warmup) cand.samples.push(ms);
      }
    }
  } finally {
    await crun?.stop();
    for (const [d, id] of drivers) await d.terminate(id).catch(() => {});
    spawnSync('runc', ['--root', runcRoot, 'delete', '--force', `${tag}r`], { stdio: 'ignore' });
    spawnSync('lxc-stop', ['-n', lxcId, '-P', lxcPath, '-k'], { stdio: 'ignore' });
    spawnSync('lxc-destroy', ['-n', lxcId, '-P', lxcPath], { stdio: 'ignore' });
    sweepCgroups([tag], [{ parent: '.', prefix: `lxc.payload.${tag}` }, { parent: '.', prefix: `lxc.monitor.${tag}` }, { parent: 'lxc.payload', prefix: tag }]);
    rmSync(tmp, { recursive: true, force: true });
    rootfs.cleanup();
  }
  const results = cands.map((x) => summarize(x.name, x.samples));
  const by = (n: string) => results.find((r) => r.name === n)?.median;
  const ratios: Record<string, number> = {};
  const ratio = (label: string, a: string, b: string) => {
    const x = by(a);
    const y = by(b);
    if (x !== undefined && y !== undefined) ratios[label] = x / y;
  };
  ratio('library exec (native) / crun exec', 'library driver.exec() (native)', 'crun exec');
  ratio('library exec (lxc) / crun exec', 'library driver.exec() (lxc)', 'crun exec');
  ratio('library exec (native) / runc exec', 'library driver.exec() (native)', 'runc exec');
  ratio('library exec (lxc) / lxc-attach', 'library driver.exec() (lxc)', 'lxc-attach');
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  const text = [
    `exec of /bin/true into a running busybox container, ${opts.runs} runs (+${opts.warmup} warm-up) each; load average ${la(loadavg())}`,
    table(['name', 'runs', 'median ms', 'p90 ms', 'min ms', 'max ms'], results.map((r) => [r.name, String(r.runs), fmt(r.median), fmt(r.p90), fmt(r.min), fmt(r.max)])),
    'ratios of medians:',
    ...Object.entries(ratios).map(([k, v]) => `  ${k.padEnd(38)} ${fmt(v, 2)}x`),
  ].join('\n');
  return { results, ratios, text };
}

/** `--only exec`: this part alone; its results in bench/results/exec.json. */
export async function execBenchMain(opts: { runs: number; warmup: number }): Promise<number> {
  const r = await execBench(opts);
  process.stdout.write(`${r.text}\n`);
  const dir = join(REPO, 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'exec.json'),
    JSON.stringify({ date: new Date().toISOString(), host: { kernel: release(), cpus: cpus().length, node: process.version }, runs: opts.runs, results: r.results, ratios: r.ratios }, null, 2) + '\n',
  );
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === SELF && process.argv.includes('--crun-exec-child')) {
  await crunExecChild(process.argv[process.argv.indexOf('--crun-exec-child') + 1] ?? '');
} else if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const i = process.argv.indexOf('--runs');
  process.exitCode = await execBenchMain({ runs: i > 0 ? Number(process.argv[i + 1]) : 30, warmup: 3 });
}
