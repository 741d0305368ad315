/**
 * linux.resources ↔ the limits the cgroup code writes (src/cgroups/resources.ts), and the device
 * cgroup rules: Docker's allow-list as OCI rules, and back.
 */
import { DEFAULT_DEVICE_RULES, type DeviceMode, type Resources } from '../cgroups/resources.js';
import type { LinuxDeviceCgroup, LinuxResources } from './types.js';

/** A v1 rule (`c 1:3 rwm`, `c *:* m`) as an OCI allow rule. */
function ruleOf(text: string): LinuxDeviceCgroup {
  const [type = 'a', nums = '*:*', access = 'rwm'] = text.split(' ');
  const [major = '*', minor = '*'] = nums.split(':');
  return {
    allow: true,
    type,
    ...(major !== '*' ? { major: Number(major) } : {}),
    ...(minor !== '*' ? { minor: Number(minor) } : {}),
    access,
  };
}

/** An OCI rule as v1 text (`c 1:3 rwm`, `a *:* rwm`), whether it allows or denies. */
export function deviceRuleText(r: LinuxDeviceCgroup): string {
  const n = (x: number | null | undefined) => (x === undefined || x === null || x < 0 ? '*' : String(x));
  return `${r.type ?? 'a'} ${n(r.major)}:${n(r.minor)} ${r.access ?? 'rwm'}`;
}

const ALLOW_ALL: readonly LinuxDeviceCgroup[] = [{ allow: true, access: 'rwm' }];
let defaults: readonly LinuxDeviceCgroup[] | undefined;
const ruleSet = (mode: 'default' | 'allow-all') => (mode === 'allow-all' ? ALLOW_ALL : (defaults ??= [{ allow: false, access: 'rwm' }, ...DEFAULT_DEVICE_RULES.map(ruleOf)]));
const keyOf = (r: LinuxDeviceCgroup) => `${r.allow ? 'allow' : 'deny'} ${deviceRuleText(r)}`;
const keys = new Map<string, string>();
const modeKey = (mode: 'default' | 'allow-all') => keys.get(mode) ?? keys.set(mode, ruleSet(mode).map(keyOf).join('\n')).get(mode)!;

/** The device cgroup rules of a container: deny everything, then Docker's allow-list (and the extra rules); privileged: allow all. */
export function deviceRules(mode: DeviceMode): LinuxDeviceCgroup[] {
  if (typeof mode === 'object') return [...ruleSet('default'), ...mode.extra.map(ruleOf)].map((r) => ({ ...r }));
  return ruleSet(mode).map((r) => ({ ...r }));
}

/**
 * Which of the two rule sets the cgroup code knows `rules` are; undefined for any other list
 * (validateSpec refuses it: the device controller is written from these two only).
 */
export function deviceModeOf(rules: readonly LinuxDeviceCgroup[] | undefined): DeviceMode | undefined {
  const text = (rules ?? []).map(keyOf).join('\n');
  if (text === modeKey('allow-all')) return 'allow-all';
  if (text === modeKey('default')) return 'default';
  // the allow-list, then more allow rules (given devices)
  const base = modeKey('default');
  if (text.startsWith(base + '\n')) {
    const rest = (rules ?? []).slice(ruleSet('default').length);
    if (rest.every((r) => r.allow && (r.type === 'c' || r.type === 'b') && typeof r.major === 'number' && typeof r.minor === 'number')) {
      return { extra: rest.map(deviceRuleText) };
    }
  }
  return undefined;
}

/** A Command's limits as linux.resources (without the device rules). */
export function linuxResources(r: Resources): LinuxResources {
  const out: LinuxResources = {};
  const memory = {
    ...(r.memory !== undefined ? { limit: r.memory } : {}),
    ...(r.memoryReservation !== undefined ? { reservation: r.memoryReservation } : {}),
    ...(r.memorySwap !== undefined ? { swap: r.memorySwap } : {}),
  };
  if (Object.keys(memory).length) out.memory = memory;
  const cpu = {
    ...(r.cpuShares !== undefined ? { shares: r.cpuShares } : {}),
    ...(r.cpuQuota !== undefined ? { quota: r.cpuQuota } : {}),
    ...(r.cpuPeriod !== undefined ? { period: r.cpuPeriod } : {}),
    ...(r.cpusetCpus !== undefined ? { cpus: r.cpusetCpus } : {}),
    ...(r.cpusetMems !== undefined ? { mems: r.cpusetMems } : {}),
  };
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (r.pidsLimit !== undefined) out.pids = { limit: r.pidsLimit };
  return out;
}

/** linux.resources as the limits the cgroup code writes. */
export function resourcesOf(l: LinuxResources | undefined): Resources {
  const r: Resources = {};
  const m = l?.memory;
  if (m?.limit !== undefined) r.memory = m.limit;
  if (m?.swap !== undefined) r.memorySwap = m.swap;
  if (m?.reservation !== undefined) r.memoryReservation = m.reservation;
  const c = l?.cpu;
  if (c?.shares !== undefined) r.cpuShares = c.shares;
  if (c?.quota !== undefined) r.cpuQuota = c.quota;
  if (c?.period !== undefined) r.cpuPeriod = c.period;
  if (c?.cpus !== undefined) r.cpusetCpus = c.cpus;
  if (c?.mems !== undefined) r.cpusetMems = c.mems;
  if (l?.pids !== undefined) r.pidsLimit = l.pids.limit;
  return r;
}
