/**
 * The one classifier of a failed start step: an `exec` that found nothing is 127
 * (ERR_EXEC_NOT_FOUND), one that could not run the file 126 (ERR_EXEC_NOT_EXECUTABLE), anything
 * else 125 (ERR_START_FAILED), with one line naming the step. Both drivers report through it:
 * the native monitor's `error` frames, LXC's log, the lxc driver's own check of the executable.
 */
import { constants as osConstants } from 'node:os';
import { describeErrno, StartError, type ErrorCode } from '../errors.js';

export interface StepFailure {
  /** `op#index` (native plan), or a step name: `exec`, `chdir`, … */
  step: string;
  errno: number;
  path: string;
  /** what the step was doing, when it is not an exec */
  message?: string;
}

export function classifyStartFailure(containerId: string, f: StepFailure): StartError {
  const op = f.step.split('#')[0];
  let code: ErrorCode = 'ERR_START_FAILED';
  let exitCode = 125;
  if (op === 'exec' && f.errno === osConstants.errno.ENOENT) {
    code = 'ERR_EXEC_NOT_FOUND';
    exitCode = 127;
  } else if (op === 'exec' && (f.errno === osConstants.errno.EACCES || f.errno === osConstants.errno.ENOEXEC)) {
    code = 'ERR_EXEC_NOT_EXECUTABLE';
    exitCode = 126;
  }
  let why = f.errno ? `: ${describeErrno(f.errno)}` : '';
  if (op === 'mount-source' && f.errno === osConstants.errno.EINVAL && /IDMAP/.test(f.message ?? '')) {
    why += ' (its filesystem does not allow idmapped mounts: use a rootfs on ext4, xfs, btrfs or tmpfs)';
  }
  const text =
    code === 'ERR_EXEC_NOT_FOUND'
      ? `executable "${f.path}" not found in the container${why}`
      : code === 'ERR_EXEC_NOT_EXECUTABLE'
        ? `"${f.path}" is not executable in the container${why}`
        : op === 'exec'
          ? `exec "${f.path}" failed${why}`
          : f.step.includes('#')
            ? `${f.message || `${op} ${f.path}`}${why} (init step ${f.step})`
            : `${f.message || f.step} ${f.path}`.trim() + why;
  return new StartError(code, text, { containerId, step: f.step, path: f.path, ...(f.errno ? { errno: f.errno } : {}), exitCode });
}
