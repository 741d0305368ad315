import { spawn } from 'node:child_process';
import { ExecDriverError, type ErrorCode, type ErrorDetails } from '../errors.js';

/** A command of the network mechanism failed: keeps the command line and its stderr. */
export class NetworkCommandError extends ExecDriverError {
  /** argv, file first */
  readonly command: string[];
  readonly stderr: string;
  /** the process's exit status (null when it was killed or could not be spawned) */
  readonly status: number | null;
  /** for `ip -batch -`: the batch line that failed (1-based) and its text */
  readonly batchLine?: { number: number; text: string };

  constructor(
    code: ErrorCode,
    message: string,
    fields: { command: string[]; stderr: string; status: number | null; batchLine?: { number: number; text: string } },
    details: ErrorDetails,
  ) {
    super(code, message, details);
    this.name = 'NetworkCommandError';
    this.command = fields.command;
    this.stderr = fields.stderr;
    this.status = fields.status;
    if (fields.batchLine) this.batchLine = fields.batchLine;
  }
}

export interface RunOptions {
  /** written to the command's stdin (e.g. an `ip -batch -` script) */
  input?: string;
  /** the step named in an error, e.g. `create bridge execdriver0` */
  step: string;
  code?: ErrorCode;
  /** open fds handed to the command as 3, 4, … */
  fds?: number[];
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** `ip -batch -` prints `Command failed -:N` for the failing line. */
function failedBatchLine(stderr: string, input: string | undefined): { number: number; text: string } | undefined {
  if (input === undefined) return undefined;
  const m = /Command failed -:(\d+)/.exec(stderr);
  if (!m?.[1]) return undefined;
  const n = Number(m[1]);
  const text = input.split('\n')[n - 1];
  return text === undefined ? undefined : { number: n, text };
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(argv: string[]): string {
  return argv.map(quote).join(' ');
}

/** The first meaningful line(s) of stderr, without the `Command failed` trailer. */
function stderrSummary(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^Command failed -:\d+$/.test(l))
    .join('; ');
}

/**
 * Run a command (no shell), resolve with its output; on a non-zero exit reject with a
 * NetworkCommandError naming the command line (and the failed batch line) and its stderr.
 * `fds` are passed to the command as its fds 3, 4, … (e.g. a namespace, as `/proc/self/fd/3`).
 */
export function run(file: string, args: string[], options: RunOptions): Promise<RunResult> {
  const argv = [file, ...args];
  const code = options.code ?? 'ERR_NETWORK';
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe', ...(options.fds ?? [])],
      env: { ...process.env, LC_ALL: 'C' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let spawnError: NodeJS.ErrnoException | undefined;
    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError = err;
    });
    child.on('close', (status, signal) => {
      if (spawnError) {
        const e = spawnError;
        const errno = typeof e.errno === 'number' ? Math.abs(e.errno) : undefined;
        reject(
          new NetworkCommandError(
            code,
            `${options.step}: cannot run ${file}: ${e.code ?? e.message}${e.code === 'ENOENT' ? ' (not installed?)' : ''}`,
            { command: argv, stderr, status: null },
            { step: options.step, path: commandLine(argv), cause: e, ...(errno !== undefined ? { errno } : {}) },
          ),
        );
        return;
      }
      if (status === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const batchLine = failedBatchLine(stderr, options.input);
      const why = stderrSummary(stderr) || (status !== null ? `exit status ${status}` : `killed by ${signal}`);
      const where = batchLine ? ` (batch line ${batchLine.number}: "${batchLine.text}")` : '';
      reject(
        new NetworkCommandError(
          code,
          `${options.step}: \`${commandLine(argv)}\`${where} failed: ${why}`,
          { command: argv, stderr, status, ...(batchLine ? { batchLine } : {}) },
          { step: options.step, path: commandLine(argv) },
        ),
      );
    });
    if (child.stdin) {
      child.stdin.on('error', () => {
        /* EPIPE when the command exits before reading: its exit status tells the story */
      });
      child.stdin.end(options.input ?? '');
    }
  });
}

/** An `ip` failure caused by an object that already exists (EEXIST). */
export function isFileExists(err: unknown): boolean {
  return err instanceof NetworkCommandError && /File exists/.test(err.stderr);
}

/** An `ip` failure caused by a missing device. */
export function isNoSuchDevice(err: unknown): boolean {
  return err instanceof NetworkCommandError && /Cannot find device|does not exist|No such device/.test(err.stderr);
}
