/**
 * What LXC's own log (`lxc-start -o FILE -l DEBUG`) says about one run. Pure.
 *
 * `lxc-start -F` exits 0 whatever the container's status: the status is only in this log,
 * written by LXC when it reaps the container's init (NOTES.md):
 *   `… DEBUG start - …:signal_handler:464 - Container init process 4489 exited`
 *   `… INFO error - …:lxc_error_set_and_log:31 - Child <5125> ended on error (3)`
 *   `… INFO error - …:lxc_error_set_and_log:34 - Child <5153> ended on signal Killed(9)`
 * (no line for exit 0), and the pid once the command runs:
 *   `… NOTICE start - …:post_start:2205 - Started "/bin/true" with pid "28138"` (lxc-start)
 *   `… NOTICE execute - …:execute_post_start:34 - '/bin/sh' started with pid '5100'` (lxc-execute)
 */
import { constants as osConstants } from 'node:os';

export interface LxcLogError {
  /** the text after LXC's location prefix, e.g. `No such file or directory - Failed to exec "/x"` */
  message: string;
  /** the errno LXC named in front of the message, if it is one we know */
  errno?: number;
}

export interface LxcRun {
  /** the container's init, once it ran */
  startedPid?: number;
  /** exit code (0-255) of the init, when it exited */
  exitCode?: number;
  /** the signal number that ended the init */
  signal?: number;
  /** LXC saw its init end (DEBUG `Container init process <pid> exited`): no status line = exit 0 */
  initExited?: boolean;
  errors: LxcLogError[];
  /** the command could not be executed: `Failed to exec "<path>"` */
  execFailure?: { path: string; errno?: number };
  /** the working directory does not exist: `Could not change directory to "<dir>"` */
  chdirFailure?: { path: string; errno?: number };
}

/** strerror texts LXC prints in front of a message, for the errnos a start may fail with. */
const STRERROR: Record<string, keyof typeof osConstants.errno> = {
  'No such file or directory': 'ENOENT',
  'Permission denied': 'EACCES',
  'Exec format error': 'ENOEXEC',
  'Not a directory': 'ENOTDIR',
  'Is a directory': 'EISDIR',
  'Operation not permitted': 'EPERM',
  'Read-only file system': 'EROFS',
  'Invalid argument': 'EINVAL',
  'Device or resource busy': 'EBUSY',
  'File exists': 'EEXIST',
  'No space left on device': 'ENOSPC',
  'Cannot allocate memory': 'ENOMEM',
  'Too many levels of symbolic links': 'ELOOP',
  'Text file busy': 'ETXTBSY',
  'Argument list too long': 'E2BIG',
  'No such device': 'ENODEV',
  'No such process': 'ESRCH',
};

/** `… ERROR    start - ../src/lxc/start.c:start:2197 - <message>` → `<message>` */
function messageOf(line: string): string {
  const m = /\s-\s\S+:\d+\s-\s(.*)$/.exec(line);
  return (m?.[1] ?? line).trim();
}

function errnoOf(message: string): number | undefined {
  const dash = message.indexOf(' - ');
  if (dash < 0) return undefined;
  const name = STRERROR[message.slice(0, dash)];
  return name ? osConstants.errno[name] : undefined;
}

export function parseLxcLog(text: string): LxcRun {
  const run: LxcRun = { errors: [] };
  let foreignChild = false;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let m = /ended on error \((\d+)\)/.exec(line);
    if (m) {
      run.exitCode = Number(m[1]);
      delete run.signal;
      continue;
    }
    m = /ended on signal[^(]*\((\d+)\)\s*$/.exec(line);
    if (m) {
      run.signal = Number(m[1]);
      delete run.exitCode;
      continue;
    }
    if (/Container init process \d+ exited/.test(line)) {
      run.initExited = true;
      continue;
    }
    // LXC's signal handler, given a SIGCHLD of another child of lxc-start (a helper LXC forks in a
    // user namespace) once the init already died (checked with waitid WNOWAIT), ends its main
    // loop without the line above; the clean-up after the loop then says the init is gone
    if (/ instead of container init \d+/.test(line)) {
      foreignChild = true;
      continue;
    }
    if (foreignChild && /Deleted network devices/.test(line)) {
      run.initExited = true;
      continue;
    }
    m = /(?:Started ".*"|' started) with pid ["'](\d+)["']\s*$/.exec(line);
    if (m) {
      run.startedPid = Number(m[1]);
      continue;
    }
    if (/\sERROR\s/.test(line)) {
      const message = messageOf(line);
      const errno = errnoOf(message);
      run.errors.push(errno !== undefined ? { message, errno } : { message });
      const exec = /Failed to exec "(.*)"\s*$/.exec(message);
      if (exec && !run.execFailure) run.execFailure = { path: exec[1]!, ...(errno !== undefined ? { errno } : {}) };
      const cd = /Could not change directory to "(.*)"\s*$/.exec(message);
      if (cd && !run.chdirFailure) run.chdirFailure = { path: cd[1]!, ...(errno !== undefined ? { errno } : {}) };
    }
  }
  return run;
}

/**
 * The message to show for a failed start: LXC's first specific error (the later ones are
 * "An error occurred in another process", "Failed to spawn container", …).
 */
export function startFailureMessage(run: LxcRun): string | undefined {
  const generic = /another process|Failed to spawn container|failed to start|Additional information|Failed run an application|Failed to load rcfile|Failed to setup container/i;
  const specific = run.errors.find((e) => !generic.test(e.message));
  return (specific ?? run.errors[0])?.message;
}
