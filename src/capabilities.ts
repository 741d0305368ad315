import { readFileSync } from 'node:fs';
import { InvalidConfigError } from './errors.js';

/** Linux capabilities by number (linux/capability.h), without the CAP_ prefix. */
export const CAPABILITIES: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
];

/**
 * The capabilities a default container keeps: the allow-list Docker has used since 1.0 (after the
 * 2014 "Shocker" escape through DAC_READ_SEARCH). Docker 0.11 instead dropped a list (SPEC §2), which
 * on a 41-capability kernel keeps 26, and every capability a newer kernel adds. Everything not
 * listed here is dropped unless asked for with capAdd.
 */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP',
  'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
];

/** `cap_sys_admin`, `CAP_SYS_ADMIN`, `sys_admin` → `SYS_ADMIN`; `all` → `ALL`. Throws on an unknown name. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase().replace(/^CAP_/, '');
  if (upper === 'ALL') return 'ALL';
  if (!CAPABILITIES.includes(upper)) {
    throw new InvalidConfigError(`unknown capability "${name}" (known: ${CAPABILITIES.join(', ')}, ALL)`);
  }
  return upper;
}

export function capabilityNumber(name: string): number {
  return CAPABILITIES.indexOf(name);
}

/**
 * The capabilities_mask of container.json: every known capability, true when kept. The start is the
 * default allow-list (privileged: everything); `ALL` in capDrop empties it, `ALL` in capAdd fills it;
 * then single drops, then single adds (an add wins over a drop of the same name, as in Docker).
 */
const masks = new Map<string, Record<string, boolean>>();
export function capabilityMask(privileged: boolean, capAdd: string[], capDrop: string[]): Record<string, boolean> {
  // computed once per distinct input (several places ask for it at every start): a copy each time
  const key = `${privileged}|${capAdd.join(',')}|${capDrop.join(',')}`;
  let mask = masks.get(key);
  if (!mask) {
    mask = computeMask(privileged, capAdd, capDrop);
    if (masks.size < 256) masks.set(key, mask);
  }
  return { ...mask };
}

/**
 * The order `localeCompare` gives capability names (ICU's root collation: '_' before digits before
 * letters, letters without case), without ICU: its first use costs a Node process 50-90 ms, paid by
 * every `execdriver run` (issue 13). Checked against localeCompare for every pair of names.
 */
export function compareCapabilities(a: string, b: string): number {
  const rank = (c: number) => (c === 95 ? 0 : c >= 48 && c <= 57 ? c - 47 : (c | 32) - 86);
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = rank(a.charCodeAt(i)) - rank(b.charCodeAt(i));
    if (d) return d;
  }
  return a.length - b.length;
}

function computeMask(privileged: boolean, capAdd: string[], capDrop: string[]): Record<string, boolean> {
  const mask: Record<string, boolean> = {};
  for (const c of CAPABILITIES) mask[c] = privileged || DEFAULT_CAPABILITIES.includes(c);
  const add = capAdd.map(normalizeCapability);
  const drop = capDrop.map(normalizeCapability);
  if (drop.includes('ALL')) for (const c of CAPABILITIES) mask[c] = false;
  if (add.includes('ALL')) for (const c of CAPABILITIES) mask[c] = true;
  for (const c of drop) if (c !== 'ALL') mask[c] = false;
  for (const c of add) if (c !== 'ALL') mask[c] = true;
  return Object.fromEntries(Object.entries(mask).sort(([a], [b]) => compareCapabilities(a, b)));
}

/** The five capability sets of a process, as capability names. */
export interface CapabilitySets {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
  ambient: string[];
}

/**
 * The sets the container's command runs with, from what it may keep (`kept`, already limited to
 * what the host can grant). Root gets `kept` as bounding, permitted and effective; a non-root user
 * only the bounding set, as after execve by an ordinary user. The inheritable set stays empty
 * (CVE-2022-24769: a non-empty one hands file-inheritable capabilities to unprivileged programs)
 * except for the ambient capabilities asked for, which the kernel requires to be inheritable and
 * permitted too; ambient ones make sense for a non-root user, and must be among `kept`.
 */
export function capabilitySets(kept: string[], uid: number, ambient: string[] = []): CapabilitySets {
  const amb = ambient.map(normalizeCapability).filter((c) => c !== 'ALL');
  const missing = amb.filter((c) => !kept.includes(c));
  if (missing.length) {
    throw new InvalidConfigError(`ambient capabilities ${missing.join(', ')} are not in the container's capability set (add them with capAdd)`);
  }
  const own = uid === 0 ? [...kept] : [...amb];
  return { bounding: [...kept], effective: own, permitted: own, inheritable: [...amb], ambient: amb };
}

/** The capabilities kept by a mask, limited to what this kernel knows (lastCap from /proc/sys/kernel/cap_last_cap). */
export function keptCapabilities(mask: Record<string, boolean>, lastCap = CAPABILITIES.length - 1): string[] {
  return CAPABILITIES.filter((c, i) => i <= lastCap && mask[c] !== false);
}

/** A 64-bit mask as hex, for the C init. */
export function capabilityBits(names: string[]): string {
  let bits = 0n;
  for (const n of names) bits |= 1n << BigInt(capabilityNumber(n));
  return '0x' + bits.toString(16);
}

/** The capability names in a hex mask such as /proc/self/status's CapBnd. */
export function capabilitiesInMask(hex: string): string[] {
  const bits = BigInt('0x' + hex.replace(/^0x/, ''));
  return CAPABILITIES.filter((_, i) => (bits >> BigInt(i)) & 1n);
}

let hostCaps: { names: string[]; lastCap: number } | undefined;
/** What this host can grant: our own bounding set, and the kernel's last capability. */
export function hostCapabilities(): { names: string[]; lastCap: number } {
  if (!hostCaps) {
    const status = readFileSync('/proc/self/status', 'utf8');
    const bnd = /^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? '0';
    const lastCap = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
    hostCaps = { names: capabilitiesInMask(bnd), lastCap };
  }
  return hostCaps;
}
