/** `execdriver-oci exec`: another process in a running container (src/exec/), runc's flags. */
import { readFileSync, writeFileSync } from 'node:fs';
import { ExecDriverError } from '../errors.js';
import type { Process } from '../spec/types.js';

type Caps = NonNullable<Process['capabilities']>;
import { UsageError, type parseFlags as ParseFlags } from './cli.js';
import type { OciDriver } from './driver.js';

export async function execVerb(d: OciDriver, argv: string[], parseFlags: typeof ParseFlags): Promise<number> {
  const { flags, args } = parseFlags(
    argv,
    {
      process: { kind: 'string', alias: 'p' }, tty: { kind: 'bool', alias: 't' }, 'console-socket': { kind: 'string' },
      detach: { kind: 'bool', alias: 'd' }, 'pid-file': { kind: 'string' }, cwd: { kind: 'string' }, env: { kind: 'list', alias: 'e' },
      user: { kind: 'string', alias: 'u' }, cap: { kind: 'list', alias: 'c' }, 'no-new-privs': { kind: 'bool' },
      'additional-gids': { kind: 'list', alias: 'g' }, 'preserve-fds': { kind: 'string' }, 'process-label': { kind: 'string' },
      apparmor: { kind: 'string' }, ignore: { kind: 'bool' },
    },
    true,
  );
  const id = args[0];
  if (!id) throw new UsageError('"exec" requires at least 1 argument (the container id)');
  let proc: Partial<Process> = {};
  if (flags['process']) {
    try {
      proc = JSON.parse(readFileSync(flags['process'] as string, 'utf8')) as Process;
    } catch (e) {
      throw new ExecDriverError('ERR_INVALID_CONFIG', `--process ${flags['process']}: ${(e as Error).message}`, { containerId: id });
    }
  }
  const cmd = args.length > 1 ? args.slice(1) : (proc.args ?? []);
  if (!cmd.length) throw new UsageError('exec: give the command (after the id) or --process');
  // process.capabilities: engines (containerd, Podman) pass the container's own sets, which the exec gets anyway
  if (flags['cap'] || (proc.capabilities && !sameCapabilities(proc.capabilities, d.ociSpec(id)?.process?.capabilities))) {
    throw new ExecDriverError('ERR_INVALID_CONFIG', "exec: capabilities other than the container's (--cap, process.capabilities) are not supported by execdriver-oci yet", { containerId: id });
  }
  if (flags['console-socket']) throw new ExecDriverError('ERR_INVALID_CONFIG', 'exec --console-socket is not supported by execdriver-oci yet', { containerId: id });
  const tty = !!flags['tty'] || !!proc.terminal;
  const userFlag = flags['user'] as string | undefined;
  const user = userFlag ?? (proc.user ? `${proc.user.uid}:${proc.user.gid}` : undefined);
  const env = [...(proc.env ?? []), ...((flags['env'] as string[] | undefined) ?? [])];
  const cwd = (flags['cwd'] as string | undefined) ?? proc.cwd;
  const detach = !!flags['detach'];
  const h = await d.exec(
    id,
    { args: cmd, ...(env.length ? { env } : {}), ...(cwd ? { cwd } : {}), ...(user !== undefined ? { user } : {}), ...(tty ? { tty } : {}) },
    // detached, as runc's: the caller's fds, and the process goes to the caller's subreaper (the shim, conmon)
    detach ? { detach: true, leave: true } : { pipes: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, end: false } },
  );
  if (flags['pid-file']) writeFileSync(flags['pid-file'] as string, String(h.pid));
  if (detach) return 0;
  return (await h.exited).exitCode;
}

/** The same five sets (order and duplicates aside; a missing set is an empty one). */
function sameCapabilities(a: Caps, b: Caps | undefined): boolean {
  const sets = ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const;
  const norm = (c: Caps | undefined, k: (typeof sets)[number]) => [...new Set(c?.[k] ?? [])].sort().join(',');
  return sets.every((k) => norm(a, k) === norm(b, k));
}
