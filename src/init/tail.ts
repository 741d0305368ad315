/**
 * The end of every container process's plan, shared by both drivers and by exec: what runs after
 * the driver's own steps, decided once (native/PROTOCOL.md).
 */
import { capabilityBits, type CapabilitySets } from '../capabilities.js';
import { envPath } from '../command.js';
import type { ResolvedUser } from '../users.js';
import type { ContainerOp } from './protocol.js';

const num = (n: number) => String(n);

/** What the last steps need: the credentials, the filter, the command. */
export interface TailInputs {
  sets: CapabilitySets;
  user: ResolvedUser;
  noNewPrivileges: boolean;
  /** the compiled seccomp program (hex); absent: none */
  seccompFilter?: string;
  /** the container's working directory: made (owned by the user) when missing, before the user is set */
  workdir?: string;
  /** the driver's own steps, after the credentials and before the environment */
  middle: ContainerOp[];
  /** the command's environment (its PATH is searched for the command) */
  env: string[];
  /** false: the process has it already (an lxc container: LXC set it), no `env` ops */
  setEnv?: boolean;
  args: string[];
}

/**
 * The last steps of a container's process, the same on both drivers (the native child runs them
 * at the end of its plan; in an lxc container `execdriver-init run-plan` does): a session keyring
 * of its own, the bounding set, the seccomp filter, the user, its capability sets, then exec.
 */
export function processTail(t: TailInputs): ContainerOp[] {
  const ops: ContainerOp[] = [];
  // a session keyring of its own (before seccomp blocks keyctl): anonymous, so that nothing can
  // make one of the container's name in advance for it to join
  ops.push(['session-keyring', '']);
  if (t.noNewPrivileges) ops.push(['no-new-privs']);
  // capabilities: the bounding set first, then the user, then the process's own sets
  ops.push(['bounding', capabilityBits(t.sets.bounding)]);
  ops.push(['closefds']);
  // seccomp: without no_new_privs loading the filter needs CAP_SYS_ADMIN, so it goes in before
  // `user`/`caps` drop it; with it, last before exec (as runc does)
  if (t.seccompFilter && !t.noNewPrivileges) ops.push(['seccomp-filter', t.seccompFilter]);
  if (t.workdir && t.workdir !== '/') ops.push(['workdir', t.workdir, num(t.user.uid), num(t.user.gid)]);
  ops.push(['user', num(t.user.uid), num(t.user.gid), t.user.groups.join(',')]);
  ops.push(['caps', capabilityBits(t.sets.effective), capabilityBits(t.sets.permitted), capabilityBits(t.sets.inheritable)]);
  if (t.sets.ambient.length) ops.push(['ambient', capabilityBits(t.sets.ambient)]);
  ops.push(...t.middle);
  if (t.setEnv !== false) for (const e of t.env) ops.push(['env', e]);
  if (t.seccompFilter && t.noNewPrivileges) ops.push(['seccomp-filter', t.seccompFilter]);
  ops.push(['exec', envPath(t.env), ...(t.args as [string, ...string[]])]);
  return ops;
}


