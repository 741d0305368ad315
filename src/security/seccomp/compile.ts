import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ExecDriverError, describeErrno } from '../../errors.js';
import { deniedSyscalls, hostPlatform, resolveSeccomp, type Platform, type ResolvedSeccomp, type SeccompProfile } from './profile.js';
import { InvalidConfigError } from '../../errors.js';
import { capabilityNumber, hostCapabilities } from '../../capabilities.js';
import { ANNOTATION, capabilityNames, isTrue } from '../../spec/from-command.js';
import type { Spec } from '../../spec/types.js';
import { INIT_BINARY } from '../../init/monitor.js';
import { encodeFrames } from '../../init/protocol.js';
import type { SeccompBuildOp } from '../../init/protocol.js';

/**
 * A resolved profile as the C init's build ops (native/PROTOCOL.md, `seccomp-compile`): the
 * default and bad-arch actions, the architectures, one `seccomp-rule` per syscall with its
 * conditions as `INDEX:OP:VALUE:VALUETWO`.
 */
export function seccompBuildOps(r: ResolvedSeccomp): SeccompBuildOp[] {
  const ops: SeccompBuildOp[] = [['seccomp-default', r.defaultAction, String(r.defaultErrno), r.badArchAction, String(r.badArchErrno)]];
  for (const a of r.arches) ops.push(['seccomp-arch', a]);
  for (const rule of r.rules) {
    const conds = rule.args.map((c) => `${c.index}:${c.op}:${c.value}:${c.valueTwo}`);
    ops.push(['seccomp-rule', rule.action, String(rule.errno), rule.syscall, ...conds]);
  }
  return ops;
}

/**
 * What the C init itself calls once the filter is loaded: without no_new_privs the filter comes
 * before `user`, `caps`, `pdeathsig`, `chdir` and `exec` (and the error report, a write); with
 * it, only `exec` follows. A profile that denies one of them could not start anything (the
 * child could not even report why): it is refused up front.
 */
const INIT_AFTER_FILTER = ['execve', 'write', 'exit_group', 'umask'];
const INIT_AFTER_FILTER_WITHOUT_NNP = [...INIT_AFTER_FILTER, 'prctl', 'setgroups', 'setresgid', 'setresuid', 'capset', 'open', 'openat', 'openat2', 'fchdir', 'close'];
const INIT_FORK = ['rt_sigprocmask', 'wait4', 'rt_sigtimedwait', 'kill', 'setpgid'];

let binaryId: string | undefined;
const memory = new WeakMap<SeccompProfile, Map<string, string>>();

/**
 * The BPF program of `profile` for a container with the capabilities `caps`, as hexadecimal for
 * the plan's `seccomp-filter` op. libseccomp needs ~10 ms to build and compile a filter of
 * Docker's size, so a program is compiled once (`execdriver-init seccomp-compile`) and kept: in
 * memory for this process, and in `cacheDir` (the state root's `seccomp/`) for the next ones.
 * A cached file holds what it was compiled from (the C init binary's identity, the profile, the
 * capabilities, the platform), a NUL, then the program; it is used only when that text equals
 * ours, so its name needs no cryptographic hash (cacheName): a command line that finds its
 * program does not load `node:crypto` (~7 ms of its start, bench/STARTUP.md round 4).
 */
export function seccompFilter(
  profile: SeccompProfile,
  caps: readonly string[],
  opts: { cacheDir?: string; containerId?: string; platform?: Platform; noNewPrivileges?: boolean; init?: boolean; name?: string } = {},
): string {
  const platform = opts.platform ?? hostPlatform();
  const needs = [...(opts.noNewPrivileges ? INIT_AFTER_FILTER : INIT_AFTER_FILTER_WITHOUT_NNP), ...(opts.init ? INIT_FORK : [])];
  const sub = `${[...caps].sort().join(',')}|${platform.arch}|${platform.kernel}|${needs.join(',')}`;
  let byCaps = memory.get(profile);
  const hit = byCaps?.get(sub);
  if (hit) return hit;
  if (!binaryId) {
    const bin = statSync(INIT_BINARY);
    binaryId = `${bin.size}:${bin.mtimeMs}:${bin.ino}`;
  }
  const material = `${binaryId}\n${sub}\n${JSON.stringify(profile)}`;
  const file = opts.cacheDir ? join(opts.cacheDir, `${cacheName(material)}.bpf`) : undefined;
  let program: Buffer | undefined;
  if (file) {
    try {
      program = cachedProgram(readFileSync(file), material);
    } catch {
      /* not compiled yet */
    }
  }
  if (!program || program.length === 0 || program.length % 8) {
    const resolved = resolveSeccomp(profile, caps, platform);
    if (opts.name) resolved.name = opts.name;
    const denied = deniedSyscalls(resolved, needs);
    if (denied.length) {
      throw new InvalidConfigError(
        `seccomp profile "${resolved.name}" denies ${denied.join(', ')}, which the container's init needs after the filter is loaded`,
        opts.containerId ? { containerId: opts.containerId } : {},
      );
    }
    program = compileProgram(resolved, opts.containerId);
    if (file) {
      try {
        // the state root (made here first on a fresh root) must stay searchable: LXC binds files
        // from below it as a user namespace's root
        mkdirSync(dirname(opts.cacheDir!), { recursive: true, mode: 0o711 });
        mkdirSync(opts.cacheDir!, { recursive: true, mode: 0o700 });
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, Buffer.concat([Buffer.from(`${material}\0`), program]), { mode: 0o600 });
        renameSync(tmp, file);
      } catch {
        /* a cache only */
      }
    }
  }
  const hex = program.toString('hex');
  if (!byCaps) memory.set(profile, (byCaps = new Map()));
  byCaps.set(sub, hex);
  return hex;
}

/**
 * A cache file's name for MATERIAL: two 32-bit FNV-1a lanes over its UTF-8 bytes taken four at a
 * time (a cold process runs this loop interpreted: ~1 ms for Docker's profile), and its length.
 * A collision only costs a compile: the file's own material decides (cachedProgram).
 */
export function cacheName(material: string): string {
  const n = Buffer.byteLength(material);
  const bytes = Buffer.allocUnsafeSlow((n + 3) & ~3).fill(0); // its own ArrayBuffer: aligned for the words
  bytes.write(material);
  const words = new Uint32Array(bytes.buffer, 0, bytes.length >> 2);
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    a = Math.imul(a ^ w, 0x01000193);
    b = Math.imul(b ^ w ^ (a >>> 16), 0x01000193);
  }
  return `${(a >>> 0).toString(16).padStart(8, '0')}${(b >>> 0).toString(16).padStart(8, '0')}-${n.toString(16)}`;
}

/** The program of a cache file, or undefined when it was compiled from other material. */
export function cachedProgram(file: Buffer, material: string): Buffer | undefined {
  const end = file.indexOf(0);
  if (end < 0 || file.toString('utf8', 0, end) !== material) return undefined;
  return file.subarray(end + 1);
}

/** Build and compile the rules with libseccomp, in the C init's `seccomp-compile` mode. */
export function compileProgram(r: ResolvedSeccomp, containerId?: string): Buffer {
  const res = spawnSync(INIT_BINARY, ['seccomp-compile'], { input: encodeFrames(seccompBuildOps(r)), maxBuffer: 1 << 20 });
  if (res.status === 0 && !res.error) return res.stdout;
  const [step = 'seccomp-compile', no = '0', path = '', message = res.error?.message ?? 'compile the seccomp filter'] = String(res.stderr ?? '')
    .trim()
    .split('\t');
  const errno = Number(no) || undefined;
  throw new ExecDriverError(
    'ERR_START_FAILED',
    `seccomp profile "${r.name}": ${message}${path ? ` (${path})` : ''}${errno ? `: ${describeErrno(errno)}` : ''}`,
    { ...(containerId ? { containerId } : {}), step: `seccomp ${step}`, ...(errno ? { errno } : {}), exitCode: 125 },
  );
}

/**
 * What a container keeps and the filter it gets, the same on both drivers, from its spec: the
 * capabilities of its bounding set this host can grant, and the compiled program of its
 * `linux.seccomp` (none without one). The profile there is already resolved against those
 * capabilities (buildSpec). The C init's minimal init (`--init` annotation) runs under the filter too.
 */
export function specSecurity(spec: Spec, stateRoot: string, containerId: string): { kept: string[]; filter?: string } {
  const host = hostCapabilities();
  const kept = capabilityNames(spec.process?.capabilities?.bounding).filter((c) => host.names.includes(c) && capabilityNumber(c) <= host.lastCap);
  const seccomp = spec.linux?.seccomp;
  if (!seccomp) return { kept };
  const name = spec.annotations?.[ANNOTATION.seccomp];
  const filter = seccompFilter(seccomp as SeccompProfile, kept, {
    cacheDir: join(stateRoot, 'seccomp'),
    containerId,
    noNewPrivileges: !!spec.process?.noNewPrivileges,
    init: isTrue(spec, ANNOTATION.init),
    ...(name ? { name } : {}),
  });
  return { kept, filter };
}
