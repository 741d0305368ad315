/**
 * seccomp profiles in Docker's format (a superset of the OCI runtime spec's `linux.seccomp`):
 * the types, a full validation, and the resolution of a profile against what a container is
 * (its capabilities, the host's architecture and kernel) into flat rules, the only thing the
 * backends see (the native plan's `seccomp-*` ops, LXC's profile file).
 */
import { arch as hostArch, release } from 'node:os';
import { InvalidConfigError } from '../../errors.js';

export const ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
] as const;
export type SeccompAction = (typeof ACTIONS)[number];

export const OPERATORS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'] as const;
export type SeccompOperator = (typeof OPERATORS)[number];

/** OCI architecture names → libseccomp's names (what `seccomp_arch_resolve_name` takes). */
export const ARCHES: Readonly<Record<string, string>> = {
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_X86_64: 'x86_64',
  SCMP_ARCH_X32: 'x32',
  SCMP_ARCH_ARM: 'arm',
  SCMP_ARCH_AARCH64: 'aarch64',
  SCMP_ARCH_MIPS: 'mips',
  SCMP_ARCH_MIPS64: 'mips64',
  SCMP_ARCH_MIPS64N32: 'mips64n32',
  SCMP_ARCH_MIPSEL: 'mipsel',
  SCMP_ARCH_MIPSEL64: 'mipsel64',
  SCMP_ARCH_MIPSEL64N32: 'mipsel64n32',
  SCMP_ARCH_PPC: 'ppc',
  SCMP_ARCH_PPC64: 'ppc64',
  SCMP_ARCH_PPC64LE: 'ppc64le',
  SCMP_ARCH_S390: 's390',
  SCMP_ARCH_S390X: 's390x',
  SCMP_ARCH_PARISC: 'parisc',
  SCMP_ARCH_PARISC64: 'parisc64',
  SCMP_ARCH_RISCV64: 'riscv64',
};

/** The filter flags of the OCI spec: accepted, none of them is needed here (see README). */
const FLAGS = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'];

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOperator;
}

/** Docker's conditions on a rule: `includes` all must hold, `excludes` any one drops the rule. */
export interface SeccompFilter {
  /** `CAP_SYS_ADMIN`…: (includes) the container has all of them / (excludes) has any of them */
  caps?: string[];
  /** the host's architecture in Go's names (`amd64`, `arm64`, `x32`, `arm`, `s390x`…) */
  arches?: string[];
  /** `MAJOR.MINOR`: (includes) the kernel is at least / (excludes) the kernel is at least */
  minKernel?: string;
}

export interface SeccompSyscall {
  names?: string[];
  /** an old Docker format: one name */
  name?: string;
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  includes?: SeccompFilter;
  excludes?: SeccompFilter;
  comment?: string;
}

export interface SeccompArchMap {
  architecture: string;
  subArchitectures?: string[] | null;
}

/** Docker's profile format; an OCI `linux.seccomp` object is one without includes, excludes, archMap. */
export interface SeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[] | null;
  archMap?: SeccompArchMap[] | null;
  syscalls?: SeccompSyscall[] | null;
  flags?: string[] | null;
  /** our name for it in container.json (`default` for the built-in one) */
  name?: string;
}

/** The wire names of actions (native/PROTOCOL.md). */
export type ResolvedAction = 'allow' | 'errno' | 'kill-thread' | 'kill-process' | 'trap' | 'trace' | 'log';
export type ResolvedOperator = 'ne' | 'lt' | 'le' | 'eq' | 'ge' | 'gt' | 'masked-eq';

export interface ResolvedArg {
  index: number;
  op: ResolvedOperator;
  /** for masked-eq: the mask */
  value: number;
  /** for masked-eq: the value the masked argument must equal */
  valueTwo: number;
}

export interface ResolvedRule {
  action: ResolvedAction;
  /** the errno of `errno`, the message number of `trace`, else 0 */
  errno: number;
  syscall: string;
  /** all must hold (ANDed); never two on the same index */
  args: ResolvedArg[];
}

/** A profile made concrete for one container on this host. */
export interface ResolvedSeccomp {
  name: string;
  defaultAction: ResolvedAction;
  defaultErrno: number;
  /** what a syscall from an architecture not in the filter gets */
  badArchAction: ResolvedAction;
  badArchErrno: number;
  /** libseccomp names; the native one is always in the filter */
  arches: string[];
  rules: ResolvedRule[];
}

export interface Platform {
  /** Node's name of the architecture (`x64`, `arm64`…) */
  arch: string;
  /** `6.18.0-1-amd64`… */
  kernel: string;
}

export const hostPlatform = (): Platform => ({ arch: hostArch(), kernel: release() });

const EPERM = 1;

/** Node's arch → [Go's name (Docker's includes.arches), the OCI name]. */
const NATIVE: Record<string, [string, string]> = {
  x64: ['amd64', 'SCMP_ARCH_X86_64'],
  arm64: ['arm64', 'SCMP_ARCH_AARCH64'],
  arm: ['arm', 'SCMP_ARCH_ARM'],
  ia32: ['386', 'SCMP_ARCH_X86'],
  s390x: ['s390x', 'SCMP_ARCH_S390X'],
  ppc64: ['ppc64le', 'SCMP_ARCH_PPC64LE'],
  riscv64: ['riscv64', 'SCMP_ARCH_RISCV64'],
  mips64el: ['mips64le', 'SCMP_ARCH_MIPSEL64'],
};

const ACTION_WIRE: Record<SeccompAction, ResolvedAction> = {
  SCMP_ACT_KILL: 'kill-thread',
  SCMP_ACT_KILL_THREAD: 'kill-thread',
  SCMP_ACT_KILL_PROCESS: 'kill-process',
  SCMP_ACT_TRAP: 'trap',
  SCMP_ACT_ERRNO: 'errno',
  SCMP_ACT_TRACE: 'trace',
  SCMP_ACT_ALLOW: 'allow',
  SCMP_ACT_LOG: 'log',
};

const OP_WIRE: Record<SeccompOperator, ResolvedOperator> = {
  SCMP_CMP_NE: 'ne',
  SCMP_CMP_LT: 'lt',
  SCMP_CMP_LE: 'le',
  SCMP_CMP_EQ: 'eq',
  SCMP_CMP_GE: 'ge',
  SCMP_CMP_GT: 'gt',
  SCMP_CMP_MASKED_EQ: 'masked-eq',
};

const SYSCALL_RE = /^[a-z_][a-z0-9_]{0,63}$/;
const KERNEL_RE = /^\d+\.\d+$/;

function bad(field: string, message: string): never {
  throw new InvalidConfigError(`seccomp profile: ${field} ${message}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkAction(v: unknown, field: string): void {
  if (v === 'SCMP_ACT_NOTIFY') bad(field, '"SCMP_ACT_NOTIFY" is not supported (there is no seccomp agent)');
  if (typeof v !== 'string' || !(ACTIONS as readonly string[]).includes(v)) {
    bad(field, `${JSON.stringify(v)} is not a known action (${ACTIONS.join(', ')})`);
  }
}

function checkErrno(v: unknown, field: string): void {
  if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 4095)) {
    bad(field, `${JSON.stringify(v)} must be an integer from 0 to 4095`);
  }
}

function checkStrings(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) bad(field, 'must be a list of strings');
  return v as string[];
}

function checkArch(v: unknown, field: string, strict = true): void {
  // archMap lists every platform's architectures: one we do not know is only an error where used
  if (!strict && typeof v === 'string' && /^SCMP_ARCH_[A-Z0-9_]+$/.test(v)) return;
  if (typeof v !== 'string' || !(v in ARCHES)) bad(field, `${JSON.stringify(v)} is not a known architecture (${Object.keys(ARCHES).join(', ')})`);
}

function checkFilter(v: unknown, field: string): void {
  if (v === undefined || v === null) return;
  if (!isObject(v)) bad(field, 'must be an object');
  for (const c of checkStrings(v['caps'], `${field}.caps`)) {
    if (!/^CAP_[A-Z_]+$/.test(c)) bad(`${field}.caps`, `${JSON.stringify(c)} is not a capability name (CAP_…)`);
  }
  checkStrings(v['arches'], `${field}.arches`);
  const k = v['minKernel'];
  if (k !== undefined && k !== null && k !== '' && (typeof k !== 'string' || !KERNEL_RE.test(k))) {
    bad(`${field}.minKernel`, `${JSON.stringify(k)} must be MAJOR.MINOR (e.g. "5.8")`);
  }
}

const u64 = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Check a profile completely (Docker's or the OCI format); throws ERR_INVALID_CONFIG naming the
 * field. Unknown syscall names are not an error (they are skipped for the architecture, as Docker
 * and runc do); a malformed one is.
 */
export function validateSeccompProfile(p: unknown): SeccompProfile {
  if (!isObject(p)) bad('', 'must be a JSON object');
  checkAction(p['defaultAction'], 'defaultAction');
  checkErrno(p['defaultErrnoRet'], 'defaultErrnoRet');
  const arches = checkStrings(p['architectures'], 'architectures');
  arches.forEach((a, i) => checkArch(a, `architectures[${i}]`));
  const map = p['archMap'];
  if (map !== undefined && map !== null) {
    if (!Array.isArray(map)) bad('archMap', 'must be a list');
    if (arches.length) bad('archMap', 'and architectures cannot both be given');
    map.forEach((m, i) => {
      if (!isObject(m)) bad(`archMap[${i}]`, 'must be an object');
      checkArch(m['architecture'], `archMap[${i}].architecture`, false);
      checkStrings(m['subArchitectures'], `archMap[${i}].subArchitectures`).forEach((a, j) => checkArch(a, `archMap[${i}].subArchitectures[${j}]`, false));
    });
  }
  checkStrings(p['flags'], 'flags').forEach((f, i) => {
    if (!FLAGS.includes(f)) bad(`flags[${i}]`, `${JSON.stringify(f)} is not a known flag (${FLAGS.join(', ')})`);
  });
  if (p['listenerPath']) bad('listenerPath', 'is not supported (there is no seccomp agent)');
  const calls = p['syscalls'];
  if (calls !== undefined && calls !== null && !Array.isArray(calls)) bad('syscalls', 'must be a list');
  ((calls as unknown[] | null | undefined) ?? []).forEach((s, i) => {
    const f = `syscalls[${i}]`;
    if (!isObject(s)) bad(f, 'must be an object');
    const names = checkStrings(s['names'], `${f}.names`);
    if (s['name'] !== undefined && typeof s['name'] !== 'string') bad(`${f}.name`, 'must be a string');
    if (typeof s['name'] === 'string') names.push(s['name']);
    if (!names.length) bad(f, 'has no syscall names (names)');
    names.forEach((n) => SYSCALL_RE.test(n) || bad(`${f}.names`, `${JSON.stringify(n)} is not a syscall name`));
    checkAction(s['action'], `${f}.action`);
    checkErrno(s['errnoRet'], `${f}.errnoRet`);
    if (s['errnoRet'] !== undefined && s['action'] !== 'SCMP_ACT_ERRNO' && s['action'] !== 'SCMP_ACT_TRACE') {
      bad(`${f}.errnoRet`, `is only for SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not ${s['action']}`);
    }
    const args = s['args'];
    if (args !== undefined && args !== null && !Array.isArray(args)) bad(`${f}.args`, 'must be a list');
    ((args as unknown[] | null | undefined) ?? []).forEach((a, j) => {
      const af = `${f}.args[${j}]`;
      if (!isObject(a)) bad(af, 'must be an object');
      if (!Number.isInteger(a['index']) || (a['index'] as number) < 0 || (a['index'] as number) > 5) bad(`${af}.index`, `${JSON.stringify(a['index'])} must be 0 to 5`);
      if (!u64(a['value'])) bad(`${af}.value`, `${JSON.stringify(a['value'])} must be a non-negative integer (at most 2^53-1)`);
      if (a['valueTwo'] !== undefined && !u64(a['valueTwo'])) bad(`${af}.valueTwo`, `${JSON.stringify(a['valueTwo'])} must be a non-negative integer (at most 2^53-1)`);
      if (typeof a['op'] !== 'string' || !(OPERATORS as readonly string[]).includes(a['op'])) {
        bad(`${af}.op`, `${JSON.stringify(a['op'])} is not a known operator (${OPERATORS.join(', ')})`);
      }
    });
    if (((args as unknown[] | null | undefined) ?? []).length > 6) bad(`${f}.args`, 'has more than 6 conditions');
    checkFilter(s['includes'], `${f}.includes`);
    checkFilter(s['excludes'], `${f}.excludes`);
  });
  if (p['name'] !== undefined && typeof p['name'] !== 'string') bad('name', 'must be a string');
  return p as unknown as SeccompProfile;
}

/** `6.18.0-1-amd64` ≥ `5.8`? */
export function kernelAtLeast(kernel: string, min: string): boolean {
  const [a = 0, b = 0] = kernel.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  const [c = 0, d = 0] = min.split('.').map(Number);
  return a > c || (a === c && b >= d);
}

/** The libseccomp architectures of the filter: `architectures`, or the archMap entry of the native arch. */
function resolveArches(p: SeccompProfile, nativeOci: string): string[] {
  let names: string[] = p.architectures ?? [];
  if (!names.length && p.archMap) {
    const m = p.archMap.find((a) => a.architecture === nativeOci);
    if (m) names = [m.architecture, ...(m.subArchitectures ?? [])];
  }
  const out = [ARCHES[nativeOci] ?? ''].filter(Boolean);
  for (const n of names) {
    const lib = ARCHES[n];
    if (!lib) bad('archMap', `architecture ${JSON.stringify(n)} of this host's entry is not known here`);
    if (!out.includes(lib)) out.push(lib);
  }
  return out;
}

/**
 * Make a (validated) profile concrete for a container with the capabilities `caps` (names without
 * `CAP_`, its bounding set) on `platform`: Docker's includes/excludes decide which rules exist,
 * each name becomes one rule, rules with the default's action are dropped (libseccomp refuses them),
 * and a rule with two conditions on one argument becomes one rule per condition (libseccomp
 * cannot AND them; runc does the same split).
 */
export function resolveSeccomp(p: SeccompProfile, caps: readonly string[], platform: Platform = hostPlatform()): ResolvedSeccomp {
  const [goArch, nativeOci] = NATIVE[platform.arch] ?? [platform.arch, ''];
  const capSet = new Set(caps.map((c) => `CAP_${c}`));
  const defaultAction = ACTION_WIRE[p.defaultAction];
  const defaultErrno = defaultAction === 'errno' ? (p.defaultErrnoRet ?? EPERM) : 0;
  const rules: ResolvedRule[] = [];
  const seen = new Set<string>();
  for (const s of p.syscalls ?? []) {
    const inc = s.includes ?? {};
    const exc = s.excludes ?? {};
    if (inc.caps?.length && !inc.caps.every((c) => capSet.has(c))) continue;
    if (inc.arches?.length && !inc.arches.includes(goArch)) continue;
    if (inc.minKernel && !kernelAtLeast(platform.kernel, inc.minKernel)) continue;
    if (exc.caps?.some((c) => capSet.has(c))) continue;
    if (exc.arches?.includes(goArch)) continue;
    if (exc.minKernel && kernelAtLeast(platform.kernel, exc.minKernel)) continue;
    const action = ACTION_WIRE[s.action];
    const errno = action === 'errno' ? (s.errnoRet ?? p.defaultErrnoRet ?? EPERM) : action === 'trace' ? (s.errnoRet ?? 0) : 0;
    if (action === defaultAction && errno === defaultErrno) continue;
    const args: ResolvedArg[] = (s.args ?? []).map((a) => ({ index: a.index, op: OP_WIRE[a.op], value: a.value, valueTwo: a.valueTwo ?? 0 }));
    const indexes = args.map((a) => a.index);
    const split = new Set(indexes).size !== indexes.length;
    const groups = split ? args.map((a) => [a]) : [args];
    for (const name of [...(s.names ?? []), ...(s.name ? [s.name] : [])]) {
      for (const g of groups) {
        const key = JSON.stringify([name, action, errno, g]);
        if (seen.has(key)) continue;
        seen.add(key);
        rules.push({ action, errno, syscall: name, args: g });
      }
    }
  }
  // a syscall from an architecture outside the filter: the default, unless that allows it
  const badArchAction: ResolvedAction = defaultAction === 'allow' || defaultAction === 'log' ? 'errno' : defaultAction;
  const badArchErrno = defaultAction === 'allow' || defaultAction === 'log' ? EPERM : defaultErrno;
  return {
    name: p.name ?? 'custom',
    defaultAction,
    defaultErrno,
    badArchAction,
    badArchErrno,
    arches: resolveArches(p, nativeOci),
    rules,
  };
}

/**
 * The names among `needed` that `r` denies for certain: no unconditional rule allows them and the
 * default does not (a call with conditional rules counts as allowed: its arguments decide).
 */
export function deniedSyscalls(r: ResolvedSeccomp, needed: readonly string[]): string[] {
  const lets = (a: ResolvedAction) => a === 'allow' || a === 'log';
  return needed.filter((name) => {
    const rules = r.rules.filter((x) => x.syscall === name);
    if (rules.some((x) => x.args.length > 0)) return false;
    const plain = rules.find((x) => x.args.length === 0);
    return plain ? !lets(plain.action) : !lets(r.defaultAction);
  });
}

const ociForms = new WeakMap<SeccompProfile, Map<string, SeccompProfile>>();

/**
 * A profile as an OCI `linux.seccomp` object for a container with the capabilities `caps` on
 * `platform`: Docker's `includes`/`excludes` and `archMap` are decided here (what is left is the
 * specification's form: `defaultAction`, `defaultErrnoRet`, `architectures`, `flags`, `syscalls`
 * with `names`, `action`, `errnoRet`, `args`), so resolveSeccomp of the result gives the same
 * rules as of the profile itself. The same inputs give the same object (the compiled filter is
 * cached by it).
 */
export function ociSeccomp(p: SeccompProfile, caps: readonly string[], platform: Platform = hostPlatform()): SeccompProfile {
  const key = `${[...caps].sort().join(',')}|${platform.arch}|${platform.kernel}`;
  let byKey = ociForms.get(p);
  const hit = byKey?.get(key);
  if (hit) return hit;
  const [goArch, nativeOci] = NATIVE[platform.arch] ?? [platform.arch, ''];
  const capSet = new Set(caps.map((c) => `CAP_${c}`));
  let architectures: string[] = p.architectures ?? [];
  if (!architectures.length && p.archMap) {
    const m = p.archMap.find((a) => a.architecture === nativeOci);
    architectures = m ? [m.architecture, ...(m.subArchitectures ?? [])] : [];
  }
  const syscalls: SeccompSyscall[] = [];
  for (const s of p.syscalls ?? []) {
    const inc = s.includes ?? {};
    const exc = s.excludes ?? {};
    if (inc.caps?.length && !inc.caps.every((c) => capSet.has(c))) continue;
    if (inc.arches?.length && !inc.arches.includes(goArch)) continue;
    if (inc.minKernel && !kernelAtLeast(platform.kernel, inc.minKernel)) continue;
    if (exc.caps?.some((c) => capSet.has(c))) continue;
    if (exc.arches?.includes(goArch)) continue;
    if (exc.minKernel && kernelAtLeast(platform.kernel, exc.minKernel)) continue;
    const names = [...(s.names ?? []), ...(s.name ? [s.name] : [])];
    syscalls.push({
      names,
      action: s.action,
      ...(s.errnoRet !== undefined ? { errnoRet: s.errnoRet } : {}),
      ...(s.args?.length ? { args: s.args.map((a) => ({ index: a.index, value: a.value, ...(a.valueTwo !== undefined ? { valueTwo: a.valueTwo } : {}), op: a.op })) } : {}),
    });
  }
  const out: SeccompProfile = {
    defaultAction: p.defaultAction,
    ...(p.defaultErrnoRet !== undefined ? { defaultErrnoRet: p.defaultErrnoRet } : {}),
    ...(architectures.length ? { architectures } : {}),
    ...(p.flags?.length ? { flags: [...p.flags] } : {}),
    syscalls,
  };
  if (!byKey) ociForms.set(p, (byKey = new Map()));
  byKey.set(key, out);
  return out;
}
