/**
 * The one mapping from what a monitor reports to an `ExitStatus`: the raw wait status (as
 * waitpid(2) gives it) decides the code, 128+n for a death by signal n, once, here.
 */
import { constants as osConstants } from 'node:os';
import type { ExitStatus } from '../driver.js';

const signalNames = new Map<number, NodeJS.Signals>();
for (const [name, n] of Object.entries(osConstants.signals)) signalNames.set(n, name as NodeJS.Signals);

/** The name of signal `n` (SIGKILL for 9), undefined for an unknown number. */
export const signalName = (n: number): NodeJS.Signals | undefined => signalNames.get(n);

/** An exit code and a signal number (0: none) as an ExitStatus: 128+n for a signal. */
export function exitStatusFrom(code: number, signal: number, oomKills: number): ExitStatus {
  const status: ExitStatus = { exitCode: signal > 0 ? 128 + signal : code, oomKilled: oomKills > 0 };
  const name = signal > 0 ? signalNames.get(signal) : undefined;
  if (name) status.signal = name;
  return status;
}

/** A raw wait status (WIFEXITED: bits 8-15 the code; WIFSIGNALED: bits 0-6 the signal). */
export function exitStatusFromWait(raw: number, oomKills: number): ExitStatus {
  const sig = raw & 0x7f;
  if (sig === 0) return exitStatusFrom((raw >> 8) & 0xff, 0, oomKills);
  if (sig === 0x7f) return exitStatusFrom((raw >> 8) & 0xff, 0, oomKills); // stopped: not an end, keep the code
  return exitStatusFrom(0, sig, oomKills);
}

/** A raw wait status from an exit code and signal (for records that have no raw status). */
export function waitStatusOf(code: number, signal: number): number {
  return signal > 0 ? signal & 0x7f : (code & 0xff) << 8;
}

/**
 * exit.json: written once by whoever saw the container's init end (the C monitor, or the lxc
 * driver from LXC's log). `status` is the raw wait status; records without it (older monitors)
 * fall back on exitCode/signal.
 */
export interface ExitRecord {
  exitCode: number;
  signal: number;
  oomKills: number;
  finishedAt: number;
  status?: number;
}

export const EXIT_FILE = 'exit.json';

export function exitStatusOf(rec: ExitRecord): ExitStatus {
  if (typeof rec.status === 'number' && rec.status >= 0) return exitStatusFromWait(rec.status, rec.oomKills);
  return exitStatusFrom(rec.exitCode, rec.signal, rec.oomKills);
}

/** The monitor's `["exit", CODE, SIGNAL, OOM_KILLS, RAW]` frame as an ExitStatus (RAW preferred). */
export function exitStatusOfFrame(frame: string[]): ExitStatus {
  const oom = Number(frame[3] ?? 0);
  if (frame[4] !== undefined && frame[4] !== '' && Number(frame[4]) >= 0) return exitStatusFromWait(Number(frame[4]), oom);
  return exitStatusFrom(Number(frame[1]), Number(frame[2]), oom);
}
