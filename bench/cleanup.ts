/** Removing what a bench run may leave behind: cgroups (and their processes), bridges, veths. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/** Mount points of every cgroup (v1) and cgroup2 hierarchy visible to this process. */
export function cgroupMounts(): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0) continue;
    const type = f[sep + 1];
    const mp = f[4];
    if ((type === 'cgroup' || type === 'cgroup2') && mp) out.push(mp.replace(/\\040/g, ' '));
  }
  return out;
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(dir, d.name));
  } catch {
    return [];
  }
}

function procsOf(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** SIGKILL every process in a cgroup tree and remove it, deepest first. Returns what could not be removed. */
export function removeCgroupTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const failed: string[] = [];
  for (const sub of subdirs(dir)) failed.push(...removeCgroupTree(sub));
  for (let attempt = 0; attempt < 50; attempt++) {
    for (const pid of procsOf(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    try {
      rmdirSync(dir);
      return failed;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return failed;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  failed.push(dir);
  return failed;
}

/**
 * Remove cgroups named by the bench in every hierarchy: `<mount>/<rel>` for each relative path,
 * and `<mount>/<parent>/<prefix>*` for each (parent, prefix) pair. Returns what was found.
 */
export function sweepCgroups(paths: string[], prefixed: Array<{ parent: string; prefix: string }>): { found: string[]; failed: string[] } {
  const found: string[] = [];
  const failed: string[] = [];
  for (const mount of cgroupMounts()) {
    for (const rel of paths) {
      const dir = join(mount, rel);
      if (existsSync(dir)) {
        // a bench parent left over is expected (empty, the runtimes do not remove it); only its children count as leaks
        for (const sub of subdirs(dir)) found.push(sub);
        failed.push(...removeCgroupTree(dir));
      }
    }
    for (const { parent, prefix } of prefixed) {
      for (const dir of subdirs(join(mount, parent))) {
        const base = dir.slice(dir.lastIndexOf('/') + 1);
        if (!base.startsWith(prefix)) continue;
        found.push(dir);
        failed.push(...removeCgroupTree(dir));
      }
    }
  }
  return { found, failed };
}

export function ip(args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, out: r.stdout ?? '', err: r.stderr ?? '' };
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/** Delete every port of a bridge (veths the bench's containers left) and the bridge. */
export function deleteBridge(name: string): string[] {
  const removed: string[] = [];
  if (!linkExists(name)) return removed;
  const brif = `/sys/class/net/${name}/brif`;
  let ports: string[] = [];
  try {
    ports = readdirSync(brif);
  } catch {
    /* none */
  }
  for (const p of ports) {
    if (ip(['link', 'del', p]).ok) removed.push(p);
  }
  ip(['link', 'del', name]);
  return removed;
}
