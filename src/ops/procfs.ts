/**
 * Pure parsers of /proc files the operations read: a network namespace's /proc/<pid>/net/dev,
 * a process's status and cmdline, /etc/passwd.
 */

export interface NetworkStats {
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

/** `/proc/<pid>/net/dev` → counters by interface (the namespace of that process). */
export function parseNetDev(text: string): Record<string, NetworkStats> {
  const out: Record<string, NetworkStats> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([^\s:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out[m[1]!] = {
      rxBytes: f[0]!, rxPackets: f[1]!, rxErrors: f[2]!, rxDropped: f[3]!,
      txBytes: f[8]!, txPackets: f[9]!, txErrors: f[10]!, txDropped: f[11]!,
    };
  }
  return out;
}

export interface ProcStatus {
  name: string;
  state: string;
  ppid: number;
  /** real uid */
  uid: number;
  /** the pid in each pid namespace, outermost (the host's) first */
  nsPids: number[];
}

/** `/proc/<pid>/status` → the fields `top` shows. */
export function parseProcStatus(text: string): ProcStatus {
  const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const nsPids = field('NSpid').split(/\s+/).filter(Boolean).map(Number);
  return {
    name: field('Name'),
    state: field('State').split(' ')[0] ?? '',
    ppid: Number(field('PPid')) || 0,
    uid: Number(field('Uid').split(/\s+/)[0] ?? NaN),
    nsPids: nsPids.length ? nsPids : [Number(field('Pid'))],
  };
}

/** `/proc/<pid>/cmdline` (NUL-separated) → argv; a kernel thread or zombie has none: `[name]`. */
export function parseCmdline(text: string, name: string): string[] {
  const args = text.split('\0');
  if (args.at(-1) === '') args.pop();
  return args.length ? args : [`[${name}]`];
}

/** /etc/passwd → uid → name (the first name of a uid wins). */
export function parsePasswd(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || !/^\d+$/.test(f[2]!)) continue;
    const uid = Number(f[2]);
    if (!out.has(uid)) out.set(uid, f[0]!);
  }
  return out;
}
