/**
 * A resolved profile in LXC 5's seccomp policy language (version 2), for `lxc.seccomp.profile`:
 *
 *   2
 *   allowlist errno 1          (the default action; `denylist` when it is allow)
 *   [all]
 *   clone3 errno 38
 *   clone allow [0,0,SCMP_CMP_MASKED_EQ,2114060288]
 *
 * Every rule goes in the `[all]` section: the profile was already resolved for this host's
 * architecture, and LXC adds each rule to the native filter and its compat ones (x86 and x32
 * beside x86_64, arm beside aarch64), skipping names a given architecture does not have. An
 * argument is `[index,value,op]`, or for a masked comparison `[index,value,SCMP_CMP_MASKED_EQ,mask]`.
 * LXC's language has four actions (allow, errno N, kill, trap) and no per-profile architecture
 * list or bad-architecture action: a profile that needs more is refused for this driver.
 */
import { InvalidConfigError } from '../../errors.js';
import type { ResolvedAction, ResolvedArg, ResolvedSeccomp } from './profile.js';

const OPS: Record<ResolvedArg['op'], string> = {
  ne: 'SCMP_CMP_NE',
  lt: 'SCMP_CMP_LT',
  le: 'SCMP_CMP_LE',
  eq: 'SCMP_CMP_EQ',
  ge: 'SCMP_CMP_GE',
  gt: 'SCMP_CMP_GT',
  'masked-eq': 'SCMP_CMP_MASKED_EQ',
};

function action(a: ResolvedAction, errno: number, what: string): string {
  switch (a) {
    case 'allow':
      return 'allow';
    case 'errno':
      return `errno ${errno}`;
    case 'kill-thread':
      return 'kill';
    case 'trap':
      return 'trap';
    default:
      throw new InvalidConfigError(
        `seccomp profile: ${what}: the lxc driver cannot apply the action "${a}" (LXC's profiles know allow, errno, kill (thread) and trap)`,
      );
  }
}

function arg(a: ResolvedArg): string {
  // LXC compares a masked argument as (arg & 4th field) == 2nd field
  return a.op === 'masked-eq' ? `[${a.index},${a.valueTwo},${OPS[a.op]},${a.value}]` : `[${a.index},${a.value},${OPS[a.op]}]`;
}

export function renderLxcSeccomp(r: ResolvedSeccomp): string {
  const def = r.defaultAction === 'allow' ? 'denylist' : `allowlist ${action(r.defaultAction, r.defaultErrno, 'defaultAction')}`;
  const lines = ['2', def, `# seccomp profile "${r.name}", resolved by execdriver for this container`, '[all]'];
  for (const rule of r.rules) {
    lines.push([rule.syscall, action(rule.action, rule.errno, rule.syscall), ...rule.args.map(arg)].join(' '));
  }
  return lines.join('\n') + '\n';
}
