/**
 * The crash-consistency chaos harness (issue 9): one `execdriver run` of the command line under a
 * subreaper (reaper.py), one SIGKILL (of the Node process, the monitor or the container's init)
 * at a random moment, then one `execdriver list`, then a search for anything left: a state
 * directory that is not a legitimate record, a cgroup, a mount, a veth, an address lease or a
 * process. Used by chaos.test.ts (a bounded number of runs) and bench/chaos.ts (hundreds).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { processState } from '../../src/state/index.js';

export const CLI = new URL('../../../bin/execdriver', import.meta.url).pathname;
const REAPER = new URL('../../../test/lifecycle/reaper.py', import.meta.url).pathname;
/** the system's python (a version manager's shim on PATH costs seconds per start on a loaded host) */
const PYTHON = ['/usr/bin/python3', '/bin/python3'].find((p) => existsSync(p)) ?? 'python3';

export type ChaosDriver = 'native' | 'lxc';
export type ChaosMode = 'fg' | 'd' | 't';
export type ChaosTarget = 'node' | 'monitor' | 'init';

export interface ChaosRun {
  root: string;
  rootfs: string;
  driver: ChaosDriver;
  mode: ChaosMode;
  target: ChaosTarget;
  delayMs: number;
  id: string;
  /** `--net bridge` on this bridge (and subnet), else `--net none` */
  bridge?: { name: string; subnet: string };
}

export interface ChaosResult {
  run: ChaosRun;
  /** what was SIGKILLed (pid), or why nothing was */
  killed: string;
  /** states the record was found in by `list` (before any clean-up of ours) */
  listed: string;
  leftovers: string[];
  ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function children(): Map<number, number[]> {
  const kids = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = kids.get(ppid) ?? [];
    list.push(Number(e));
    kids.set(ppid, list);
  }
  return kids;
}

/** Every live (not zombie) descendant of `pid`. */
export function descendants(pid: number): number[] {
  const kids = children();
  const out: number[] = [];
  const todo = [...(kids.get(pid) ?? [])];
  while (todo.length) {
    const p = todo.shift()!;
    const st = processState(p);
    if (st !== undefined && st !== 'Z') out.push(p);
    todo.push(...(kids.get(p) ?? []));
  }
  return out;
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

const cgroupMounts = () =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => l.split(' ')[4]!);

/** Kernel objects and files of container `id` under state root `root` (any driver). */
export function leftoversOf(root: string, id: string, rootfs: string, bridge?: string): string[] {
  const left: string[] = [];
  for (const d of ['native', 'lxc']) {
    const dir = join(root, d);
    if (!existsSync(dir)) continue;
    for (const e of readdirSync(dir)) if (e.includes(id)) left.push(`state ${join(dir, e)}`);
  }
  for (const m of cgroupMounts()) {
    const parent = join(m, 'execdriver');
    if (existsSync(parent)) for (const e of readdirSync(parent)) if (e.startsWith(id)) left.push(`cgroup ${join(parent, e)}`);
    try {
      for (const e of readdirSync(m)) if (e.startsWith(`lxc.payload.${id}`) || e.startsWith(`lxc.monitor.${id}`)) left.push(`cgroup ${join(m, e)}`);
    } catch {
      /* not readable */
    }
  }
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (l.includes(rootfs) || l.includes(`${root}/`)) left.push(`mount ${l}`);
  }
  if (bridge) {
    const out = spawnSync('ip', ['-o', 'link', 'show', 'master', bridge], { encoding: 'utf8' }).stdout ?? '';
    for (const l of out.split('\n').filter(Boolean)) left.push(`veth ${l.split(':')[1]?.trim()}`);
    const leases = join(root, 'network', bridge);
    if (existsSync(leases)) for (const f of readdirSync(leases)) if (!f.startsWith('.')) left.push(`address ${join(leases, f)}: ${readFileSync(join(leases, f), 'utf8').trim()}`);
  }
  return left;
}

function cli(root: string, args: string[], timeout = 20_000): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, '--root', root, ...args], { encoding: 'utf8', timeout });
  return { status: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}

/** One chaos run, then one `list`, then the search for leftovers (legitimate records are waited for and deleted first). */
export async function chaosRun(run: ChaosRun): Promise<ChaosResult> {
  const t0 = Date.now();
  const net = run.bridge ? ['--net', 'bridge', '--bridge', run.bridge.name, '--subnet', run.bridge.subnet] : ['--net', 'none'];
  const flags = run.mode === 'd' ? ['-d'] : run.mode === 't' ? ['-t'] : [];
  const argv = [CLI, '--root', run.root, '--driver', run.driver, 'run', ...flags, '--id', run.id, ...net, '--rootfs', run.rootfs, 'sleep', '0.6'];
  const reaper = spawn(PYTHON, [REAPER, ...(run.mode === 't' ? ['--pty'] : []), process.execPath, ...argv], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: reaper.stdout! });
  const it = lines[Symbol.asyncIterator]();
  const first = await it.next();
  const nodePid = Number(first.value);
  let exited = false;
  const exitLine = (async () => {
    for (;;) {
      const l = await it.next();
      if (l.done) return;
      if (String(l.value).startsWith('exit ')) {
        exited = true;
        return;
      }
    }
  })();
  await sleep(run.delayMs);
  const stateFile = join(run.root, run.driver, run.id, 'state.json');
  const find = (): number | undefined => {
    if (run.target === 'node') return nodePid;
    if (run.target === 'monitor') {
      return descendants(reaper.pid!).find((p) => {
        const a = cmdline(p);
        return (a[0]?.endsWith('execdriver-init') && a[1] === 'monitor') || a[0]?.endsWith('lxc-start');
      });
    }
    try {
      const rec = JSON.parse(readFileSync(stateFile, 'utf8')) as { pid?: number; init?: { pid?: number } };
      const pid = rec.init?.pid ?? rec.pid;
      return pid && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  let target: number | undefined;
  const deadline = Date.now() + 2000;
  while ((target = find()) === undefined && !exited && Date.now() < deadline) await sleep(2);
  let killed = 'nothing (not found)';
  if (target !== undefined) {
    try {
      process.kill(target, 'SIGKILL');
      killed = `${run.target} ${target} at ${Date.now() - t0} ms`;
    } catch {
      killed = `${run.target} (gone)`;
    }
  }
  const leftovers: string[] = [];
  // the Node process ends by itself (its container killed, or detached); bounded
  if (!(await Promise.race([exitLine.then(() => true), sleep(15_000).then(() => false)]))) {
    leftovers.push(`the Node process ${nodePid} did not end within 15 s`);
    try {
      process.kill(nodePid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  // one list settles whatever lost its owner
  const listed = cli(run.root, ['list', '--json']);
  let rows: { id: string; status: string; running: boolean; exitCode: number | null }[] = [];
  try {
    rows = JSON.parse(listed.out);
  } catch {
    leftovers.push(`list failed: ${listed.status} ${listed.err.trim()}`);
  }
  const mine = rows.filter((r) => r.id === run.id);
  for (const r of mine) {
    let detached = false;
    try {
      detached = !!(JSON.parse(readFileSync(stateFile, 'utf8')) as { detached?: boolean }).detached;
    } catch {
      /* no record */
    }
    // a detached container that runs, or that exited with a status, is a legitimate record
    const legit = detached && (r.status === 'running' || (r.status === 'exited' && r.exitCode !== null));
    if (!legit) leftovers.push(`record left by list: ${r.status}${r.exitCode !== null ? ` (${r.exitCode})` : ''}${detached ? ' detached' : ''}`);
    cli(run.root, ['wait', r.id], 15_000);
    cli(run.root, ['delete', '--force', r.id]);
  }
  // processes die a moment after their SIGKILL
  const end = Date.now() + 3000;
  let procs: number[] = [];
  while ((procs = descendants(reaper.pid!)).length && Date.now() < end) await sleep(20);
  for (const p of procs) leftovers.push(`process ${p}: ${cmdline(p).join(' ')}`);
  leftovers.push(...leftoversOf(run.root, run.id, run.rootfs, run.bridge?.name));
  for (const p of procs) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  reaper.stdin!.end();
  await new Promise((r) => (reaper.exitCode !== null ? r(null) : reaper.once('exit', r)));
  lines.close();
  return { run, killed, listed: mine.map((r) => r.status).join(',') || '-', leftovers, ms: Date.now() - t0 };
}

/** A random run: driver, mode, target and delay drawn evenly. */
export function randomRun(base: Omit<ChaosRun, 'driver' | 'mode' | 'target' | 'delayMs' | 'id'>, id: string, drivers: ChaosDriver[] = ['native', 'lxc']): ChaosRun {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(Math.random() * a.length)]!;
  return {
    ...base,
    id,
    driver: pick(drivers),
    mode: pick(['fg', 'd', 't'] as const),
    target: pick(['node', 'monitor', 'init'] as const),
    delayMs: Math.floor(Math.random() * 401),
  };
}

/** Force-remove whatever a failed run left (so the next runs and the suite start clean). */
export function sweep(root: string, id: string): void {
  for (const d of ['native', 'lxc']) cli(root, ['--driver', d, 'delete', '--force', id]);
}
