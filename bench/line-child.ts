/**
 * A bench child spoken to in lines (crun runs in a child of its own mount namespace): a request
 * written to its stdin, one line back on its stdout. Shared by bench/run.ts and bench/exec.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export class LineChild {
  private readonly lines: string[] = [];
  private waiter: ((l: string | undefined) => void) | undefined;
  private ended = false;
  readonly closed: Promise<void>;

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const w = this.waiter;
      this.waiter = undefined;
      if (w) w(l);
      else this.lines.push(l);
    });
    this.closed = new Promise((res) => child.on('close', () => res()));
    void this.closed.then(() => {
      this.ended = true;
      this.waiter?.(undefined);
    });
  }

  /** The next line (undefined once the child has exited). */
  next(): Promise<string | undefined> {
    const l = this.lines.shift();
    if (l !== undefined || this.ended) return Promise.resolve(l);
    return new Promise((res) => (this.waiter = res));
  }

  /** Write `request`, read the answer: a number of ms, or an `error …` line (thrown, named `what`). */
  async ask(request: string, what: string): Promise<number> {
    this.child.stdin!.write(`${request}\n`);
    const l = await this.next();
    if (l === undefined) throw new Error(`${what}: the bench child exited`);
    if (l.startsWith('error')) throw new Error(`${what}: ${l.replace(/^error ?/, '')}`);
    return Number(l);
  }

  /** End its stdin and wait for it (SIGKILL after 30 s). */
  async stop(): Promise<void> {
    this.child.stdin?.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await this.closed;
    clearTimeout(t);
  }
}
