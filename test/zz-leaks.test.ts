/**
 * Runs last (the runner orders it so): after the whole suite, nothing that a test made may be
 * left on the machine: no container process, no cgroup, no mount, no veth, no state directory.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { processState } from '../src/state/index.js';
import { TEST_ROOT } from './helpers.js';

const CGROUP_MOUNTS = readFileSync('/proc/self/mountinfo', 'utf8')
  .split('\n')
  .filter((l) => / - cgroup2? /.test(l))
  .map((l) => l.split(' ')[4]!);

it('no cgroup directory is left under any execdriver parent', () => {
  const left: string[] = [];
  for (const m of CGROUP_MOUNTS) {
    const dir = join(m, 'execdriver');
    if (!existsSync(dir)) continue;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) left.push(join(dir, e.name));
  }
  for (const m of CGROUP_MOUNTS) {
    if (!existsSync(m)) continue;
    for (const e of readdirSync(m)) if (e.startsWith('lxc.payload.') || e.startsWith('execdriver-test')) left.push(join(m, e));
  }
  assert.deepEqual(left, []);
});

it('no frozen cgroup is left (a paused container always thawed or removed)', () => {
  const frozen: string[] = [];
  const walk = (dir: string, depth: number) => {
    for (const [file, re] of [['freezer.state', /^FROZEN|^FREEZING/], ['cgroup.events', /^frozen 1$/m]] as const) {
      try {
        if (re.test(readFileSync(join(dir, file), 'utf8'))) frozen.push(dir);
      } catch {
        /* not this hierarchy's file */
      }
    }
    if (depth === 0) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name), depth - 1);
  };
  for (const m of CGROUP_MOUNTS) {
    if (!existsSync(m)) continue;
    for (const e of readdirSync(m, { withFileTypes: true })) {
      if (e.isDirectory() && (e.name === 'execdriver' || e.name.startsWith('lxc.payload.'))) walk(join(m, e.name), 3);
    }
  }
  assert.deepEqual(frozen, []);
});

it('no container state directory is left', () => {
  const left: string[] = [];
  for (const d of ['native', 'lxc']) {
    const dir = join(TEST_ROOT, d);
    if (existsSync(dir)) for (const e of readdirSync(dir)) left.push(join(dir, e));
  }
  assert.deepEqual(left, []);
});

it('no monitor or container process is left', () => {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-af', 'execdriver-init'], { encoding: 'utf8' });
  } catch {
    out = '';
  }
  // a monitor that has just exited may wait a moment as a zombie for this machine's pid 1 to reap it
  const alive = out
    .split('\n')
    .filter(Boolean)
    .filter((line) => processState(Number(line.split(' ')[0])) !== 'Z' && processState(Number(line.split(' ')[0])) !== undefined);
  assert.deepEqual(alive, []);
});

it('no mount of a test rootfs is left', () => {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => /execdriver-rootfs|execdriver-vol/.test(l));
  assert.deepEqual(mounts, []);
});

it('no veth interface is left', () => {
  const out = execFileSync('ip', ['-o', 'link', 'show', 'type', 'veth'], { encoding: 'utf8' });
  assert.equal(out.trim(), '');
});

it('no address is still allocated, and no allocator directory outlives its bridge', () => {
  const dir = join(TEST_ROOT, 'network');
  const left: string[] = [];
  if (existsSync(dir)) {
    for (const bridge of readdirSync(dir)) {
      if (!existsSync(`/sys/class/net/${bridge}`)) left.push(`${bridge}/ (the bridge is gone)`);
      for (const f of readdirSync(join(dir, bridge))) if (!f.startsWith('.')) left.push(`${bridge}/${f}`);
    }
  }
  assert.deepEqual(left, []);
});

it('no overlay rootfs mount (lxc mounts one on the host while it starts) is left', () => {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(' - overlay ') && l.includes(TEST_ROOT));
  assert.deepEqual(mounts, []);
});

it('no nftables table of a container\'s ports is left, nor a network (and its nat table) of the tests', () => {
  let tables = '';
  try {
    tables = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
  } catch {
    tables = ''; // no nftables on this host: nothing can be left
  }
  assert.deepEqual(tables.split('\n').filter((l) => /execdriver-port-/.test(l)), []);
  const nets = join(TEST_ROOT, 'networks');
  assert.deepEqual(existsSync(nets) ? readdirSync(nets) : [], []);
});
