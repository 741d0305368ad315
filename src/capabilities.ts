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

/** What Docker 0.11's default template dropped (SPEC §2); everything else is kept. */
export const DEFAULT_DROPPED: readonly string[] = [
  'SETPCAP', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME',
  'SYS_TTY_CONFIG', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'MAC_OVERRIDE', 'MAC_ADMIN', 'NET_ADMIN', 'SYSLOG',
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

/** The capabilities_mask of container.json: a key set to false is dropped, anything absent is kept. */
export function capabilityMask(privileged: boolean, capAdd: string[], capDrop: string[]): Record<string, boolean> {
  const mask: Record<string, boolean> = {};
  if (!privileged) for (const c of DEFAULT_DROPPED) mask[c] = false;
  mask['MKNOD'] = true;
  const add = capAdd.map(normalizeCapability);
  const drop = capDrop.map(normalizeCapability);
  if (drop.includes('ALL')) for (const c of CAPABILITIES) mask[c] = false;
  if (add.includes('ALL')) for (const c of CAPABILITIES) mask[c] = true;
  for (const c of drop) if (c !== 'ALL') mask[c] = false;
  for (const c of add) if (c !== 'ALL') mask[c] = true;
  return Object.fromEntries(Object.entries(mask).sort(([a], [b]) => a.localeCompare(b)));
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
