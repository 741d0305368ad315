/**
 * A network namespace of the test's own (`edt-userns-<pid>`) holding a one-shot TCP server on
 * 192.0.2.1 (on its loopback): commands run in it with `nsenter --net`, so that slirp4netns's
 * outgoing connections never leave it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

export class TestNetns {
  readonly name = `edt-userns-${process.pid % 100000}`;
  readonly path = `/run/netns/${this.name}`;
  readonly address = '192.0.2.1';
  create(): void {
    execFileSync('ip', ['netns', 'add', this.name]);
    execFileSync('ip', ['-n', this.name, 'link', 'set', 'lo', 'up']);
    execFileSync('ip', ['-n', this.name, 'addr', 'add', `${this.address}/32`, 'dev', 'lo']);
  }
  remove(): void {
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      /* never made */
    }
  }
  /** A server that accepts one connection on PORT and resolves with what it read. */
  serve(port: number): { received: Promise<string>; ready: Promise<void>; proc: ChildProcess } {
    // stdin stays an open pipe: busybox nc half-closes the connection when its stdin ends, and a
    // client that sees that FIN before it has sent anything exits 0 having sent nothing
    const proc = spawn('nsenter', [`--net=${this.path}`, 'busybox', 'nc', '-l', '-p', String(port)], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const received = new Promise<string>((resolve) => proc.once('close', () => resolve(out)));
    const ready = new Promise<void>((resolve) => setTimeout(resolve, 200));
    return { received, ready, proc };
  }
  /** argv run in the namespace */
  wrap(argv: string[]): string[] {
    return ['nsenter', `--net=${this.path}`, ...argv];
  }
}
