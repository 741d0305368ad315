/**
 * validateSpec: the one check of a container's model, for a spec built from a Command and for a
 * bundle's config.json alike. Each refusal is an InvalidConfigError naming the field by its path
 * in config.json (`linux.resources.memory.limit must be …`). What neither backend carries out is
 * refused here too, never silently ignored.
 */
import { isAbsolute } from 'node:path';
import { CAPABILITIES } from '../capabilities.js';
import { isCpuList, MAX_CPU_PERIOD, MAX_CPU_SHARES, MIN_CPU_PERIOD, MIN_CPU_QUOTA, MIN_CPU_SHARES, MIN_MEMORY } from '../cgroups/resources.js';
import { InvalidConfigError } from '../errors.js';
import { validateHostname } from '../network/validate.js';
import { validateSeccompProfile } from '../security/seccomp/profile.js';
import { ANNOTATION } from './from-command.js';
import { deviceModeOf } from './resources.js';
import { sysctlRefusal, ULIMITS } from '../command-extra.js';
import type { Spec } from './types.js';

const MAX_ID = 0xffffffff;
/** seccomp objects already checked (never changed afterwards: the built ones are shared) */
const checkedSeccomp = new WeakSet<object>();
const NAMESPACES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];
const PROPAGATION = ['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable'];
const HOOKS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];
/** namespaces a container may join by path (a setns after the clone) */
const JOINABLE = ['network', 'ipc', 'uts', 'cgroup'];
const SETS = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => (v === undefined ? 'absent' : v === null ? 'null' : Array.isArray(v) ? 'an array' : JSON.stringify(v));

class Checker {
  constructor(private readonly id: string | undefined) {}

  fail(field: string, why: string): never {
    throw new InvalidConfigError(`${field} ${why}`, this.id ? { containerId: this.id, step: 'spec' } : { step: 'spec' });
  }
  obj(v: unknown, field: string): Obj {
    if (!isObj(v)) this.fail(field, `must be an object, not ${show(v)}`);
    return v;
  }
  optObj(v: unknown, field: string): Obj | undefined {
    return v === undefined ? undefined : this.obj(v, field);
  }
  str(v: unknown, field: string): string {
    if (typeof v !== 'string') this.fail(field, `must be a string, not ${show(v)}`);
    if (v.includes('\0')) this.fail(field, 'must not contain a NUL byte');
    return v;
  }
  bool(v: unknown, field: string): void {
    if (v !== undefined && typeof v !== 'boolean') this.fail(field, `must be true or false, not ${show(v)}`);
  }
  int(v: unknown, field: string, min: number, max: number, extra = ''): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      this.fail(field, `must be an integer from ${min} to ${max}${extra}, not ${show(v)}`);
    }
    return v;
  }
  list(v: unknown, field: string): unknown[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(field, `must be an array, not ${show(v)}`);
    return v;
  }
  strings(v: unknown, field: string): string[] {
    return this.list(v, field).map((x, i) => this.str(x, `${field}[${i}]`));
  }
  absPath(v: unknown, field: string): string {
    const p = this.str(v, field);
    if (!isAbsolute(p)) this.fail(field, `must be an absolute path, not ${JSON.stringify(p)}`);
    if (p.split('/').includes('..')) this.fail(field, `must not contain '..' (${JSON.stringify(p)})`);
    return p;
  }
  unsupported(v: unknown, field: string, why = 'is not supported by execdriver yet'): void {
    const empty = v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isObj(v) && Object.keys(v).length === 0) || v === '';
    if (!empty) this.fail(field, why);
  }
  mappings(v: unknown, field: string): void {
    this.list(v, field).forEach((m, i) => {
      const f = `${field}[${i}]`;
      const o = this.obj(m, f);
      this.int(o['containerID'], `${f}.containerID`, 0, MAX_ID - 1);
      this.int(o['hostID'], `${f}.hostID`, 0, MAX_ID - 1);
      this.int(o['size'], `${f}.size`, 1, MAX_ID);
    });
  }
}

/**
 * Check a spec completely; returns it typed. `containerId` only names the container in errors.
 * Throws InvalidConfigError (ERR_INVALID_CONFIG) at the first bad field.
 */
export function validateSpec(spec: unknown, containerId?: string): Spec {
  const c = new Checker(containerId);
  const s = c.obj(spec, 'config');
  const version = c.str(s['ociVersion'], 'ociVersion');
  if (!/^1\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) c.fail('ociVersion', `must be a 1.x version of the runtime specification, not ${JSON.stringify(version)}`);

  const root = c.obj(s['root'], 'root');
  const rootPath = c.str(root['path'], 'root.path');
  if (!rootPath) c.fail('root.path', 'must not be empty');
  c.bool(root['readonly'], 'root.readonly');

  if (s['hostname'] !== undefined) {
    const h = c.str(s['hostname'], 'hostname');
    if (h !== '') {
      try {
        validateHostname(h);
      } catch (e) {
        c.fail('hostname', (e as Error).message.replace(/^hostname:?\s*/, ''));
      }
    }
  }
  if (s['domainname'] !== undefined) {
    const d = c.str(s['domainname'], 'domainname');
    if (d.length > 64) c.fail('domainname', `must be at most 64 characters, not ${d.length}`);
  }

  // process
  const p = c.obj(s['process'], 'process');
  c.bool(p['terminal'], 'process.terminal');
  const box = c.optObj(p['consoleSize'], 'process.consoleSize');
  if (box) {
    c.int(box['height'], 'process.consoleSize.height', 0, 65535);
    c.int(box['width'], 'process.consoleSize.width', 0, 65535);
  }
  const user = c.obj(p['user'], 'process.user');
  c.int(user['uid'], 'process.user.uid', 0, MAX_ID - 1);
  c.int(user['gid'], 'process.user.gid', 0, MAX_ID - 1);
  if (user['umask'] !== undefined) c.int(user['umask'], 'process.user.umask', 0, 0o777);
  c.list(user['additionalGids'], 'process.user.additionalGids').forEach((g, i) => c.int(g, `process.user.additionalGids[${i}]`, 0, MAX_ID - 1));
  c.unsupported(user['username'], 'process.user.username', 'is for Windows containers');
  const args = c.strings(p['args'], 'process.args');
  if (!args.length || args[0] === '') c.fail('process.args', 'must name a command to run (a non-empty first element)');
  c.unsupported(p['commandLine'], 'process.commandLine', 'is for Windows containers');
  c.strings(p['env'], 'process.env').forEach((e, i) => {
    if (e.indexOf('=') <= 0) c.fail(`process.env[${i}]`, `must be KEY=VALUE, not ${JSON.stringify(e)}`);
  });
  c.absPath(p['cwd'], 'process.cwd');
  const caps = c.optObj(p['capabilities'], 'process.capabilities');
  for (const set of SETS) {
    c.strings(caps?.[set], `process.capabilities.${set}`).forEach((name, i) => {
      if (!/^CAP_/.test(name) || !CAPABILITIES.includes(name.slice(4))) {
        c.fail(`process.capabilities.${set}[${i}]`, `${JSON.stringify(name)} is not a known capability (CAP_CHOWN … CAP_${CAPABILITIES.at(-1)})`);
      }
    });
  }
  const has = (set: (typeof SETS)[number], name: string) => (caps?.[set] as string[] | undefined)?.includes(name) ?? false;
  ((caps?.['ambient'] as string[] | undefined) ?? []).forEach((name, i) => {
    if (!has('permitted', name) || !has('inheritable', name) || !has('bounding', name)) {
      c.fail(`process.capabilities.ambient[${i}]`, `${name} must be in the bounding, permitted and inheritable sets too`);
    }
  });
  c.bool(p['noNewPrivileges'], 'process.noNewPrivileges');
  const rtypes = new Set<string>();
  c.list(p['rlimits'], 'process.rlimits').forEach((r, i) => {
    const f = `process.rlimits[${i}]`;
    const o = c.obj(r, f);
    const type = c.str(o['type'], `${f}.type`);
    if (!/^RLIMIT_[A-Z]+$/.test(type) || !(ULIMITS as readonly string[]).includes(type.slice(7).toLowerCase())) {
      c.fail(`${f}.type`, `${JSON.stringify(type)} is not a known limit (RLIMIT_${ULIMITS.map((u) => u.toUpperCase()).join(', RLIMIT_')})`);
    }
    if (rtypes.has(type)) c.fail(`${f}.type`, `${type} is given twice`);
    rtypes.add(type);
    const lim = (v: unknown, k: string) => {
      // -1 or 2^64-1 (RLIM_INFINITY as a JSON number): unlimited
      if (typeof v === 'number' && v >= 2 ** 63) return -1;
      return c.int(v, `${f}.${k}`, -1, Number.MAX_SAFE_INTEGER, ' (-1: unlimited)');
    };
    const soft = lim(o['soft'], 'soft');
    const hard = lim(o['hard'], 'hard');
    if (hard !== -1 && (soft === -1 || soft > hard)) c.fail(`${f}.soft`, `must not exceed ${f}.hard (${hard}), not ${soft}`);
  });
  if (p['oomScoreAdj'] !== undefined) c.int(p['oomScoreAdj'], 'process.oomScoreAdj', -1000, 1000);
  c.unsupported(p['apparmorProfile'], 'process.apparmorProfile', 'is not supported (this host runs no AppArmor profile of ours)');
  c.unsupported(p['selinuxLabel'], 'process.selinuxLabel', 'is not supported (no SELinux)');

  // mounts
  c.list(s['mounts'], 'mounts').forEach((m, i) => {
    const f = `mounts[${i}]`;
    const o = c.obj(m, f);
    const dst = c.absPath(o['destination'], `${f}.destination`);
    if (dst === '/') c.fail(`${f}.destination`, 'must not be / (the root is root.path)');
    if (o['type'] !== undefined) c.str(o['type'], `${f}.type`);
    if (o['source'] !== undefined) c.str(o['source'], `${f}.source`);
    const opts = c.strings(o['options'], `${f}.options`);
    const bind = o['type'] === 'bind' || opts.includes('bind') || opts.includes('rbind');
    if (bind && typeof o['source'] !== 'string') c.fail(`${f}.source`, 'must be given for a bind mount');
    if (!bind && typeof o['type'] !== 'string') c.fail(`${f}.type`, 'must be given for a mount that is not a bind');
    if (o['uidMappings'] !== undefined || o['gidMappings'] !== undefined) {
      if (!bind) c.fail(`${f}.uidMappings`, 'is only for bind mounts (an idmapped bind)');
      c.mappings(o['uidMappings'], `${f}.uidMappings`);
      c.mappings(o['gidMappings'], `${f}.gidMappings`);
    }
  });

  // hooks (execdriver-oci runs them; createContainer/startContainer inside the container, through the init)
  const hooks = c.optObj(s['hooks'], 'hooks');
  for (const [k, v] of Object.entries(hooks ?? {})) {
    if (!HOOKS.includes(k)) c.fail(`hooks.${k}`, `is not a hook of the runtime specification (${HOOKS.join(', ')})`);
    c.list(v, `hooks.${k}`).forEach((h, i) => {
      const f = `hooks.${k}[${i}]`;
      const o = c.obj(h, f);
      c.absPath(o['path'], `${f}.path`);
      c.strings(o['args'], `${f}.args`);
      c.strings(o['env'], `${f}.env`);
      if (o['timeout'] !== undefined) c.int(o['timeout'], `${f}.timeout`, 1, 86400, ' seconds');
    });
  }

  if (s['annotations'] !== undefined) {
    const a = c.obj(s['annotations'], 'annotations');
    for (const [k, v] of Object.entries(a)) c.str(v, `annotations[${JSON.stringify(k)}]`);
    const raw = a[ANNOTATION.lxc];
    if (raw !== undefined) {
      let lines: unknown;
      try {
        lines = JSON.parse(raw as string);
      } catch {
        /* refused below */
      }
      if (!Array.isArray(lines) || lines.some((x) => typeof x !== 'string' || /[\n\r\0]/.test(x) || !/^\s*lxc\.[A-Za-z0-9_.\-[\]]+\s*=/.test(x))) {
        c.fail(`annotations[${JSON.stringify(ANNOTATION.lxc)}]`, 'must be a JSON list of one-line "lxc.<key> = <value>" strings');
      }
    }
    const net = a[ANNOTATION.network];
    if (net !== undefined) {
      try {
        if (!isObj(JSON.parse(net as string))) throw new Error('not an object');
      } catch {
        c.fail(`annotations[${JSON.stringify(ANNOTATION.network)}]`, 'must be a JSON object');
      }
    }
  }

  // linux
  const l = c.obj(s['linux'], 'linux');
  const seen = new Set<string>();
  c.list(l['namespaces'], 'linux.namespaces').forEach((n, i) => {
    const f = `linux.namespaces[${i}]`;
    const o = c.obj(n, f);
    const type = c.str(o['type'], `${f}.type`);
    if (!NAMESPACES.includes(type)) c.fail(`${f}.type`, `${JSON.stringify(type)} is not a namespace type (${NAMESPACES.join(', ')})`);
    if (seen.has(type)) c.fail(`${f}.type`, `${type} is given twice`);
    seen.add(type);
    if (type === 'time') c.fail(`${f}.type`, 'time namespaces are not supported by execdriver yet');
    if (o['path'] !== undefined) {
      c.absPath(o['path'], `${f}.path`);
      if (!JOINABLE.includes(type)) c.fail(`${f}.path`, `joining an existing ${type} namespace is not supported yet (only ${JOINABLE.join(', ')})`);
    }
  });
  if (!seen.has('mount')) c.fail('linux.namespaces', 'must include a mount namespace (execdriver sets the root up in its own)');
  c.mappings(l['uidMappings'], 'linux.uidMappings');
  c.mappings(l['gidMappings'], 'linux.gidMappings');
  const maps = (l['uidMappings'] as unknown[] | undefined)?.length || (l['gidMappings'] as unknown[] | undefined)?.length;
  if (seen.has('user') && (!(l['uidMappings'] as unknown[] | undefined)?.length || !(l['gidMappings'] as unknown[] | undefined)?.length)) {
    c.fail('linux.uidMappings', 'and linux.gidMappings must both be given with a user namespace');
  }
  if (maps && !seen.has('user')) c.fail('linux.uidMappings', 'needs a user namespace in linux.namespaces');

  c.list(l['devices'], 'linux.devices').forEach((d, i) => {
    const f = `linux.devices[${i}]`;
    const o = c.obj(d, f);
    c.absPath(o['path'], `${f}.path`);
    const type = c.str(o['type'], `${f}.type`);
    if (!['c', 'b', 'u', 'p'].includes(type)) c.fail(`${f}.type`, `must be c, b, u or p, not ${JSON.stringify(type)}`);
    if (type !== 'p') {
      c.int(o['major'], `${f}.major`, 0, MAX_ID);
      c.int(o['minor'], `${f}.minor`, 0, MAX_ID);
    }
    if (o['fileMode'] !== undefined) c.int(o['fileMode'], `${f}.fileMode`, 0, 0o7777);
  });
  if (l['cgroupsPath'] !== undefined) {
    const cg = c.str(l['cgroupsPath'], 'linux.cgroupsPath');
    if (cg.split('/').includes('..')) c.fail('linux.cgroupsPath', `must not contain '..' (${JSON.stringify(cg)})`);
  }

  const r = c.optObj(l['resources'], 'linux.resources');
  if (r) validateResources(c, r);

  const sysctl = c.optObj(l['sysctl'], 'linux.sysctl');
  const netMode = !seen.has('network') ? 'host' : (l['namespaces'] as Obj[]).some((n) => n['type'] === 'network' && n['path'] !== undefined) ? 'container:' : 'own';
  for (const [k, v] of Object.entries(sysctl ?? {})) {
    const why = sysctlRefusal(k, netMode);
    if (why) c.fail(`linux.sysctl[${JSON.stringify(k)}]`, why);
    const value = c.str(v, `linux.sysctl[${JSON.stringify(k)}]`);
    if (value === '' || value.includes('\n')) c.fail(`linux.sysctl[${JSON.stringify(k)}]`, 'must be a one-line, non-empty value');
  }
  if (l['seccomp'] !== undefined && !checkedSeccomp.has(l['seccomp'] as object)) {
    c.obj(l['seccomp'], 'linux.seccomp');
    try {
      validateSeccompProfile(l['seccomp']);
    } catch (e) {
      c.fail('linux.seccomp:', (e as Error).message.replace(/^seccomp profile:\s*/, ''));
    }
    const o = l['seccomp'] as Obj;
    for (const k of ['archMap', 'includes', 'excludes'] as const) {
      if (o[k] !== undefined) c.fail(`linux.seccomp.${k}`, "is Docker's profile format, not the runtime specification's");
    }
    // a profile object is checked once (buildSpec hands out the same object for the same container kind)
    checkedSeccomp.add(o);
  }
  if (l['rootfsPropagation'] !== undefined) {
    const prop = c.str(l['rootfsPropagation'], 'linux.rootfsPropagation');
    if (!PROPAGATION.includes(prop)) c.fail('linux.rootfsPropagation', `must be one of ${PROPAGATION.join(', ')}, not ${JSON.stringify(prop)}`);
  }
  c.strings(l['maskedPaths'], 'linux.maskedPaths').forEach((x, i) => c.absPath(x, `linux.maskedPaths[${i}]`));
  c.strings(l['readonlyPaths'], 'linux.readonlyPaths').forEach((x, i) => c.absPath(x, `linux.readonlyPaths[${i}]`));
  c.unsupported(l['mountLabel'], 'linux.mountLabel', 'is not supported (no SELinux)');
  const pers = c.optObj(l['personality'], 'linux.personality');
  if (pers) {
    const d = c.str(pers['domain'], 'linux.personality.domain');
    if (d !== 'LINUX' && d !== 'LINUX32') c.fail('linux.personality.domain', `must be LINUX or LINUX32, not ${JSON.stringify(d)}`);
    c.unsupported(pers['flags'], 'linux.personality.flags');
  }
  c.unsupported(l['intelRdt'], 'linux.intelRdt');
  c.unsupported(l['timeOffsets'], 'linux.timeOffsets');
  return spec as Spec;
}

/** linux.resources: the limits the cgroup code writes, in their ranges; the rest refused. */
function validateResources(c: Checker, r: Obj): void {
  const f = 'linux.resources';
  if (r['devices'] !== undefined) {
    c.list(r['devices'], `${f}.devices`).forEach((d, i) => {
      const o = c.obj(d, `${f}.devices[${i}]`);
      if (typeof o['allow'] !== 'boolean') c.fail(`${f}.devices[${i}].allow`, `must be true or false, not ${show(o['allow'])}`);
      if (o['access'] !== undefined && !/^[rwm]{1,3}$/.test(String(o['access']))) c.fail(`${f}.devices[${i}].access`, `must be some of r, w, m, not ${show(o['access'])}`);
    });
    // other lists than the two sets the cgroup code knows: each rule checked (execdriver-oci writes them in order)
    if (!deviceModeOf(r['devices'] as never)) {
      (r['devices'] as Obj[]).forEach((o, i) => {
        if (o['type'] !== undefined && !['a', 'b', 'c'].includes(o['type'] as string)) c.fail(`${f}.devices[${i}].type`, `must be a, b or c, not ${show(o['type'])}`);
        for (const k of ['major', 'minor']) if (o[k] !== undefined && o[k] !== null) c.int(o[k], `${f}.devices[${i}].${k}`, -1, MAX_ID);
      });
    }
  }
  const m = c.optObj(r['memory'], `${f}.memory`);
  const limit = m?.['limit'] === undefined ? undefined : c.int(m['limit'], `${f}.memory.limit`, MIN_MEMORY, Number.MAX_SAFE_INTEGER, ' (at least 6 MiB)');
  if (m?.['swap'] !== undefined) {
    const swap = c.int(m['swap'], `${f}.memory.swap`, -1, Number.MAX_SAFE_INTEGER);
    if (limit === undefined) c.fail(`${f}.memory.swap`, 'needs linux.resources.memory.limit (it is memory + swap)');
    if (swap !== -1 && swap < limit) c.fail(`${f}.memory.swap`, `must be -1 (unlimited) or at least linux.resources.memory.limit (${limit}), not ${swap}`);
  }
  if (m?.['reservation'] !== undefined) {
    const res = c.int(m['reservation'], `${f}.memory.reservation`, 0, Number.MAX_SAFE_INTEGER);
    if (limit !== undefined && res > limit) c.fail(`${f}.memory.reservation`, `must not exceed linux.resources.memory.limit (${limit}), not ${res}`);
  }
  for (const k of ['kernel', 'kernelTCP', 'swappiness', 'disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate']) c.unsupported(m?.[k], `${f}.memory.${k}`);
  const cpu = c.optObj(r['cpu'], `${f}.cpu`);
  if (cpu?.['shares'] !== undefined) c.int(cpu['shares'], `${f}.cpu.shares`, MIN_CPU_SHARES, MAX_CPU_SHARES);
  if (cpu?.['quota'] !== undefined) {
    const q = c.int(cpu['quota'], `${f}.cpu.quota`, -1, Number.MAX_SAFE_INTEGER);
    if (q !== -1 && q < MIN_CPU_QUOTA) c.fail(`${f}.cpu.quota`, `must be -1 (unlimited) or at least ${MIN_CPU_QUOTA} µs, not ${q}`);
  }
  if (cpu?.['period'] !== undefined) c.int(cpu['period'], `${f}.cpu.period`, MIN_CPU_PERIOD, MAX_CPU_PERIOD, ' µs');
  for (const k of ['cpus', 'mems']) {
    if (cpu?.[k] !== undefined && (typeof cpu[k] !== 'string' || !isCpuList(cpu[k] as string))) {
      c.fail(`${f}.cpu.${k}`, `must be a list such as 0-1,3, not ${show(cpu[k])}`);
    }
  }
  for (const k of ['burst', 'realtimeRuntime', 'realtimePeriod', 'idle']) c.unsupported(cpu?.[k], `${f}.cpu.${k}`);
  const pids = c.optObj(r['pids'], `${f}.pids`);
  if (pids) {
    const n = c.int(pids['limit'], `${f}.pids.limit`, -1, Number.MAX_SAFE_INTEGER);
    if (n === 0) c.fail(`${f}.pids.limit`, 'must be positive or -1 (unlimited), not 0');
  }
  for (const k of ['blockIO', 'hugepageLimits', 'network', 'rdma', 'unified']) c.unsupported(r[k], `${f}.${k}`);
}
