/**
 * The command line on a pseudo-terminal of its own (test/pty-session.py, python3: Node has no pty
 * API): type keys, resize, send signals, read what the terminal shows. Shared by the terminal tests.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { processState } from '../src/state/index.js';
import { fileURLToPath } from 'node:url';
import { CLI, sleep, TEST_ROOT } from './helpers.js';

const HELPER = fileURLToPath(new URL('../../test/pty-session.py', import.meta.url));
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** This process's open fds and what they are (to check that nothing was left open). */
export const openFds = () =>
  readdirSync('/proc/self/fd').map((fd) => {
    try {
      return `${fd} ${readlinkSync(`/proc/self/fd/${fd}`)}`;
    } catch {
      return fd; // the directory listing's own fd
    }
  });

/** Alive and not a zombie (this machine's pid 1 reaps orphans only now and then). */
export const running = (pid: number) => {
  const st = processState(pid);
  return st !== undefined && st !== 'Z';
};

/** Pseudo-terminals in use on the machine. */
export const ptyCount = () => Number(readFileSync('/proc/sys/kernel/pty/nr', 'utf8'));

export class PtySession {
  static readonly all = new Set<PtySession>();
  private readonly proc: ChildProcessWithoutNullStreams;
  private raw = '';
  private err = '';
  readonly exited: Promise<number>;

  /** `execdriver --root TEST_ROOT ARGS…` on a ROWS×COLS terminal */
  constructor(rows: number, cols: number, args: string[]) {
    this.proc = spawn(PYTHON, [HELPER, String(rows), String(cols), '--', CLI, '--root', TEST_ROOT, ...args]);
    this.proc.stdout.on('data', (d: Buffer) => (this.raw += d.toString()));
    this.proc.stderr.on('data', (d: Buffer) => (this.err += d.toString()));
    this.exited = new Promise((resolve) => this.proc.on('close', (code) => resolve(code ?? -1)));
    PtySession.all.add(this);
  }
  /** what the terminal showed, without carriage returns */
  get out(): string {
    return this.raw.replace(/\r/g, '');
  }
  /** the terminal's mode once the command line has exited */
  get mode(): string | undefined {
    return /mode (\w+)\n$/.exec(this.err)?.[1];
  }
  type(keys: string): void {
    this.proc.stdin.write(`w ${Buffer.from(keys).toString('hex')}\n`);
  }
  resize(rows: number, cols: number): void {
    this.proc.stdin.write(`r ${rows} ${cols}\n`);
  }
  signal(n: number): void {
    this.proc.stdin.write(`s ${n}\n`);
  }
  async expect(re: RegExp, ms = 15_000): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(this.out)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${re} on the terminal; it shows ${JSON.stringify(this.out)} ${this.err}`);
      await sleep(20);
    }
  }
  /** the exit code, bounded */
  async code(ms = 20_000): Promise<number> {
    const code = await Promise.race([this.exited, sleep(ms).then(() => 'timeout' as const)]);
    if (code === 'timeout') throw new Error(`the command line did not exit; the terminal shows ${JSON.stringify(this.out)}`);
    return code;
  }
  kill(): void {
    this.proc.kill('SIGKILL');
  }
}
