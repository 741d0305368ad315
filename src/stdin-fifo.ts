import { execFileSync } from 'node:child_process';
import { constants, openSync } from 'node:fs';
import { ExecDriverError } from './errors.js';

/** A detached container's open stdin (`StartOptions.openStdin`), in its state directory. */
export const STDIN_FIFO = 'stdin';

/**
 * Make the FIFO PATH and open it for reading and writing: the container's fd 0. Holding both ends,
 * the container never reads EOF while no attach writes; each attach opens it for writing.
 */
export function openStdinFifo(path: string, containerId: string): number {
  try {
    execFileSync('mkfifo', ['-m', '600', path], { stdio: ['ignore', 'ignore', 'pipe'] });
    return openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
  } catch (e) {
    throw new ExecDriverError('ERR_STATE', `cannot make the stdin FIFO ${path}: ${((e as { stderr?: Buffer }).stderr?.toString() || (e as Error).message).trim()}`, { containerId });
  }
}
