/**
 * The process plan of an lxc-start container (`execdriver-init run-plan`, native/PROTOCOL.md),
 * rendered from its spec: with a terminal, make it the controlling one (and the user's); then the
 * steps every container ends with (processTail: keyring, bounding set, seccomp, user, capability
 * sets, exec), exactly as the native plan ends.
 */
import { encodePlan, type Op } from '../init/protocol.js';
import { processTail } from '../init/tail.js';
import { capabilityNames, DEFAULT_DEVICES } from '../spec/from-command.js';
import type { LinuxDevice, Spec } from '../spec/types.js';

/**
 * `kept`: the capabilities the host can grant of the spec's bounding set; `filter`: the compiled
 * seccomp program of the spec's linux.seccomp (src/security/seccomp/compile.ts specSecurity), if any.
 */
export function processPlanOps(spec: Spec, kept: readonly string[], filter?: string): Op[] {
  const proc = spec.process!;
  const user = { uid: proc.user.uid, gid: proc.user.gid, groups: proc.user.additionalGids ?? [] };
  const caps = proc.capabilities ?? {};
  const set = (list: string[] | undefined) => capabilityNames(list).filter((c) => kept.includes(c));
  const ops: Op[] = [];
  // --device (cli, issue 12): the nodes beyond LXC's standard ones, made by the container's root
  // (in a user namespace there is no mknod: they are bound, src/lxc/template.ts)
  for (const d of spec.linux?.namespaces?.some((n) => n.type === 'user') ? [] : extraDevices(spec)) {
    ops.push(['mknod', d.path.replace(/^\/+/, ''), d.type, (d.fileMode ?? 0o666).toString(8), String(d.major ?? 0), String(d.minor ?? 0)]);
  }
  if (proc.terminal) {
    ops.push(['ctty']);
    if (user.uid !== 0) ops.push(['chown', '/proc/self/fd/0', String(user.uid), String(user.gid)]);
  }
  ops.push(
    ...processTail({
      sets: { bounding: set(caps.bounding), effective: set(caps.effective), permitted: set(caps.permitted), inheritable: set(caps.inheritable), ambient: set(caps.ambient) },
      user,
      noNewPrivileges: !!proc.noNewPrivileges,
      ...(filter ? { seccompFilter: filter } : {}),
      // the working directory: made when missing (lxc.init.cwd is / with a plan), then entered
      workdir: proc.cwd || '/',
      middle: [['chdir', proc.cwd || '/']],
      env: proc.env ?? [],
      setEnv: false, // LXC's, from lxc.environment (raw lines included)
      args: proc.args ?? [],
    }),
  );
  return ops;
}

/** The plan as the bytes of `<state>/process.plan`. */
export function processPlan(spec: Spec, kept: readonly string[], filter?: string): Buffer {
  return encodePlan(processPlanOps(spec, kept, filter));
}

/** The devices of a spec beyond LXC's standard ones (--device). */
export function extraDevices(spec: Spec): LinuxDevice[] {
  const standard = new Set(DEFAULT_DEVICES.map((d) => d.path));
  return (spec.linux?.devices ?? []).filter((d) => !standard.has(d.path) && d.type !== 'p');
}
