/**
 * tty mode of the lxc driver: `lxc-start -F` (or `lxc-execute`) runs on a pseudo-terminal that
 * the C monitor of the native driver keeps (native/PROTOCOL.md, "Host mode"). LXC gives the
 * container a console of its own (a pty of the container's devpts on the command's fds 0-2 and
 * /dev/console) and relays it to its controlling terminal, which is ours: the monitor relays that
 * one to the caller's streams or, detached, to the attach socket, exactly as for a native
 * container. Window sizes travel monitor → our terminal → SIGWINCH to lxc-start → LXC's console.
 */
import type { ConsoleSize } from '../driver.js';
import { ATTACH_BUFFER } from '../init/console.js';
import { type Op } from '../init/protocol.js';
import { overlayData } from '../rootfs/overlay.js';

export interface LxcTerminalPlan {
  /** the tool and its arguments; argv[0] an absolute path */
  argv: [string, ...string[]];
  /** the tool's whole environment */
  env: string[];
  /** a terminal of this size; without one (detached only) the output goes through pipes */
  size?: ConsoleSize;
  detach: boolean;
  /** detached: where clients attach */
  attachSocket?: string;
  /** detached without a terminal: the output file's bound (`log-rotate`) */
  logRotate?: { path: string; maxSize: number; maxFiles: number };
  /** detached: the records of when each chunk of the output was written (`log-times`) */
  logTimes?: string;
  /** monitor ops that record the container's events (src/events: event-log, lxc-log, oom-watch …) */
  events?: Op[];
  /** the child's ops before anything else of its own (overlayPlan) */
  before?: Op[];
}

const CLONE_NEWNS = 0x20000;
const MS_REC = 0x4000;
const MS_SLAVE = 0x80000;

/**
 * The copy-on-write rootfs of an lxc container, mounted where only lxc-start (and the container
 * it clones) sees it: the child leaves the host's mount namespace for one of its own (everything
 * in it a slave of the host's, so nothing propagates back), mounts the overlay on `merged`, makes
 * the exec fifo and waits on it (`created`): Node makes the mount targets in the overlay through
 * `/proc/CHILD/root`, writes config.lxc, opens the fifo. The mount goes with the last process of
 * that namespace (lxc-start's end): nothing to unmount, nothing left on the host by a crash.
 */
export function overlayPlan(layers: readonly string[], dirs: { upper: string; work: string; merged: string }, fifo: string): Op[] {
  return [
    ['pdeathsig', '9'], // a child waiting on the fifo goes with its monitor
    ['unshare', String(CLONE_NEWNS)],
    ['mount', '', '/', '', String(MS_REC | MS_SLAVE), '', ''],
    ['mount', 'overlay', dirs.merged, 'overlay', '0', overlayData(layers, dirs.upper, dirs.work, false), ''],
    ['mknod', fifo, 'p', '600', '0', '0'],
    ['exec-fifo', fifo],
    ['exec-wait'],
  ];
}

/**
 * The monitor's plan: no `clone` (the tool is a plain child of the monitor, on the host), a
 * terminal from the host's devpts as its controlling terminal and fds 0-2, then the tool.
 *
 * - `console-raw-output`: lxc-start sets OPOST|ONLCR on its terminal, while its container's
 *   console has already turned every \n into \r\n: locked off, the output stays \r\n as with the
 *   native driver (not \r\r\n).
 * Detached without a terminal the same plan has `log-relay` instead of the terminal; in the
 * foreground without one, neither (the tool gets the monitor's fds 0-2, Node's pipes).
 *
 * - `pdeathsig 9`: a monitor that is killed takes lxc-start along (and LXC its container).
 * - no `signals-forward`: lxc-start leaves its terminal on SIGTERM ("Detaching from the
 *   terminal") and the start fails; signals go to the container's init instead (driver.kill).
 * - no `exit-file`: the monitor would record lxc-start's status (always 0 once the container
 *   ran); the container's own is in LXC's log, read as without tty.
 */
export function lxcTerminalPlan(p: LxcTerminalPlan): Op[] {
  const ops: Op[] = [];
  if (p.detach) ops.push(['detach']);
  if (p.size) {
    ops.push(['tty', String(p.size.rows), String(p.size.cols)]);
    if (p.attachSocket) ops.push(['attach-socket', p.attachSocket, String(ATTACH_BUFFER)]);
    ops.push(['console', '/dev/ptmx', '']);
    ops.push(['console-raw-output']);
  } else if (p.detach) {
    // detached without a terminal: lxc-start (and the container, which inherits its stdio) write
    // into pipes that the monitor copies to the log: the container never holds the log file
    ops.push(['log-relay']);
    if (p.logRotate) ops.push(['log-rotate', p.logRotate.path, String(p.logRotate.maxSize), String(p.logRotate.maxFiles)]);
  }
  if (p.detach && p.logTimes) ops.push(['log-times', p.logTimes]);
  ops.push(...(p.events ?? []));
  ops.push(...(p.before ?? []));
  ops.push(['closefds']);
  ops.push(['pdeathsig', '9']);
  for (const e of p.env) ops.push(['env', e]);
  ops.push(['exec', '', ...p.argv]);
  return ops;
}
