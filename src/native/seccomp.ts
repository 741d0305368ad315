import type { ResolvedSeccomp } from '../security/seccomp/profile.js';
import type { Op } from './plan.js';

/**
 * A resolved profile as the C init's build ops (native/PROTOCOL.md): the default and bad-arch
 * actions, the architectures, one `seccomp-rule` per syscall with its conditions as
 * `INDEX:OP:VALUE:VALUETWO`. The filter is built from them before `go`; `seccomp-load` is placed
 * by buildPlan.
 */
export function seccompBuildOps(r: ResolvedSeccomp): Op[] {
  const ops: Op[] = [['seccomp-default', r.defaultAction, String(r.defaultErrno), r.badArchAction, String(r.badArchErrno)]];
  for (const a of r.arches) ops.push(['seccomp-arch', a]);
  for (const rule of r.rules) {
    const conds = rule.args.map((c) => `${c.index}:${c.op}:${c.value}:${c.valueTwo}`);
    ops.push(['seccomp-rule', rule.action, String(rule.errno), rule.syscall, ...conds]);
  }
  return ops;
}
