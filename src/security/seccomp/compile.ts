import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
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
 * memory for this process, and in `cacheDir` (the state root's `seccomp/`) for the next ones,
 * under a hash of the C init binary, the profile, the capabilities and the platform.
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
  const key = createHash('sha256').update(`${binaryId}\n${sub}\n`).update(JSON.stringify(profile)).digest('hex');
  const file = opts.cacheDir ? join(opts.cacheDir, `${key}.bpf`) : undefined;
  let program: Buffer | undefined;
  if (file) {
    try {
      program = readFileSync(file);
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
        writeFileSync(tmp, program, { mode: 0o600 });
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
