import { constants as osConstants } from 'node:os';

/** Stable, machine-readable error codes. */
export type ErrorCode =
  | 'ERR_INVALID_CONFIG' // bad input, found before anything was created
  | 'ERR_NOT_RUNNING' // the container is not running (or does not exist)
  | 'ERR_NOT_FOUND' // no such container
  | 'ERR_CONTAINER_EXISTS' // the id is taken
  | 'ERR_START_FAILED' // the container could not be started (a setup step failed)
  | 'ERR_EXEC_NOT_FOUND' // the command was not found in the container (exit 127)
  | 'ERR_EXEC_NOT_EXECUTABLE' // the command is not executable (exit 126)
  | 'ERR_WAIT_TIMEOUT' // waiting for a state change timed out
  | 'ERR_DRIVER_EXISTS' // a driver of that name is already registered
  | 'ERR_DRIVER_NOT_FOUND' // no driver of that name
  | 'ERR_DRIVER_UNAVAILABLE' // the driver's tools are not installed
  | 'ERR_CGROUP' // a cgroup operation failed
  | 'ERR_NETWORK' // a network operation failed
  | 'ERR_STATE' // the state directory could not be read or written
  | 'ERR_ABORTED' // the caller's AbortSignal fired: the container was killed
  | 'ERR_TIMEOUT' // the `timeout` option ran out: the container was killed
  | 'ERR_MAX_BUFFER' // captured output passed `maxBuffer`: the container was killed
  | 'ERR_SYSTEM'; // any other failed syscall or command

export interface ErrorDetails {
  containerId?: string;
  /** the step that failed: `mount`, `cgroup memory.limit_in_bytes`, `lxc-start` … */
  step?: string;
  /** the path, name or command the step was working on */
  path?: string;
  /** errno as a number (positive) */
  errno?: number;
  /** the exit code a shell would give for this failure (125, 126, 127) */
  exitCode?: number;
  cause?: unknown;
}

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(osConstants.errno)) {
  if (!errnoNames.has(num)) errnoNames.set(num, name);
}

const errnoText: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ESRCH: 'no such process',
  EINTR: 'interrupted system call',
  EIO: 'input/output error',
  E2BIG: 'argument list too long',
  ENOEXEC: 'exec format error',
  EBADF: 'bad file descriptor',
  ECHILD: 'no child processes',
  EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'cannot allocate memory',
  EACCES: 'permission denied',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ENAMETOOLONG: 'file name too long',
  ENOSYS: 'function not implemented',
  ENOTEMPTY: 'directory not empty',
  ELOOP: 'too many levels of symbolic links',
  EXDEV: 'invalid cross-device link',
  EADDRINUSE: 'address already in use',
};

/** `ENOENT` for 2. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

/** `ENOENT (no such file or directory)` */
export function describeErrno(errno: number): string {
  const name = errnoName(errno);
  const text = errnoText[name];
  return text ? `${name} (${text})` : name;
}

/** Every error execdriver throws: a stable `code`, the container, the step, the path, the errno. */
export class ExecDriverError extends Error {
  readonly code: ErrorCode;
  readonly containerId?: string;
  readonly step?: string;
  readonly path?: string;
  readonly errno?: number;
  readonly errnoName?: string;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    const prefix = details.containerId ? `container ${details.containerId}: ` : '';
    super(prefix + message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ExecDriverError';
    this.code = code;
    if (details.containerId !== undefined) this.containerId = details.containerId;
    if (details.step !== undefined) this.step = details.step;
    if (details.path !== undefined) this.path = details.path;
    if (details.errno !== undefined) {
      this.errno = details.errno;
      this.errnoName = errnoName(details.errno);
    }
    this.exitCode = details.exitCode ?? 125;
  }
}

/** Bad input: raised before anything is created. */
export class InvalidConfigError extends ExecDriverError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('ERR_INVALID_CONFIG', message, details);
    this.name = 'InvalidConfigError';
  }
}

export class NotRunningError extends ExecDriverError {
  constructor(containerId: string, message = 'is not running') {
    super('ERR_NOT_RUNNING', message, { containerId });
    this.name = 'NotRunningError';
  }
}

export class NotFoundError extends ExecDriverError {
  constructor(containerId: string, where?: string) {
    super('ERR_NOT_FOUND', `no such container${where ? ` (looked in ${where})` : ''}`, {
      containerId,
      ...(where ? { path: where } : {}),
    });
    this.name = 'NotFoundError';
  }
}

export class ContainerExistsError extends ExecDriverError {
  constructor(containerId: string, path: string) {
    super('ERR_CONTAINER_EXISTS', `a container with this id already exists (${path})`, { containerId, path });
    this.name = 'ContainerExistsError';
  }
}

export class StartError extends ExecDriverError {
  constructor(code: ErrorCode, message: string, details: ErrorDetails) {
    super(code, message, details);
    this.name = 'StartError';
  }
}

export class WaitTimeoutError extends ExecDriverError {
  constructor(containerId: string, what: string, ms: number) {
    super('ERR_WAIT_TIMEOUT', `timed out after ${ms} ms waiting for ${what}`, { containerId });
    this.name = 'WaitTimeoutError';
  }
}

/**
 * The container was killed on the caller's behalf (`signal`, `timeout`, `maxBuffer`). It carries the
 * exit status and, with `capture`, what was captured up to then.
 */
export class CancelledError extends ExecDriverError {
  /** the container's exit status (after the kill) */
  readonly status?: ExitStatusLike;
  stdout?: string | Buffer;
  stderr?: string | Buffer;
  constructor(code: 'ERR_ABORTED' | 'ERR_TIMEOUT' | 'ERR_MAX_BUFFER', message: string, containerId: string, status?: ExitStatusLike, cause?: unknown) {
    super(code, message, { containerId, ...(status ? { exitCode: status.exitCode } : {}), ...(cause !== undefined ? { cause } : {}) });
    this.name = 'CancelledError';
    if (status) this.status = status;
  }
}

/** `signal` fired. `name` is `AbortError`, as Node's own for an aborted operation. */
export class AbortedError extends CancelledError {
  constructor(containerId: string, status?: ExitStatusLike, reason?: unknown) {
    super('ERR_ABORTED', 'aborted: the container was killed', containerId, status, reason);
    this.name = 'AbortError';
  }
}

/** `timeout` ran out. */
export class TimeoutError extends CancelledError {
  readonly timeout: number;
  constructor(containerId: string, ms: number, status?: ExitStatusLike) {
    super('ERR_TIMEOUT', `timed out after ${ms} ms: the container was killed`, containerId, status);
    this.name = 'TimeoutError';
    this.timeout = ms;
  }
}

/** Captured output of one stream passed `maxBuffer` bytes. */
export class MaxBufferError extends CancelledError {
  constructor(containerId: string, stream: 'stdout' | 'stderr', max: number, status?: ExitStatusLike) {
    super('ERR_MAX_BUFFER', `${stream} passed maxBuffer (${max} bytes): the container was killed`, containerId, status);
    this.name = 'MaxBufferError';
  }
}

/** Structurally the driver's ExitStatus (kept here so errors.ts imports nothing). */
export interface ExitStatusLike {
  exitCode: number;
  signal?: NodeJS.Signals;
  oomKilled: boolean;
}

export class DriverExistsError extends ExecDriverError {
  constructor(name: string) {
    super('ERR_DRIVER_EXISTS', `a driver named "${name}" is already registered`);
    this.name = 'DriverExistsError';
  }
}

export class DriverNotFoundError extends ExecDriverError {
  constructor(name: string, known: string[]) {
    super('ERR_DRIVER_NOT_FOUND', `no driver named "${name}" (known: ${known.join(', ')})`);
    this.name = 'DriverNotFoundError';
  }
}

/** A failed syscall or file operation, from a Node error (`err.code` = 'ENOENT' …). */
export function systemError(
  code: ErrorCode,
  what: string,
  err: unknown,
  details: Omit<ErrorDetails, 'cause' | 'errno'> = {},
): ExecDriverError {
  const e = err as NodeJS.ErrnoException;
  const errno = typeof e?.errno === 'number' ? Math.abs(e.errno) : undefined;
  const why =
    errno !== undefined ? describeErrno(errno) : e?.code ? String(e.code) : e instanceof Error ? e.message : String(err);
  return new ExecDriverError(code, `${what}: ${why}`, {
    ...details,
    ...(errno !== undefined ? { errno } : {}),
    cause: err,
  });
}
