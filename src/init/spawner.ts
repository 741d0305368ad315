/**
 * The spawner (native/spawner.c): one `execdriver-init spawner` per Node process, started on first
 * use and kept, that forks a container's monitor on request, so that Node never forks itself for a
 * monitor (a fork of Node copies tens of MB of page tables, takes copy-on-write faults until the
 * exec, and blocks Node's main thread until the child has exec'd: the largest single cost of a run
 * when 8 run at a time). It decides nothing; the plan still comes from us over the monitor's
 * control socket.
 *
 * Each monitor is one connection to the spawner's abstract unix socket: the spawner accepts only
 * this process (SO_PEERCRED) and each fork proves itself with the secret the spawner gave us over
 * its private stdout (MonitorChannel.fork). The spawner exits when we do (EOF on its stdin); the
 * monitors it forked live on, as spawned ones do. It keeps the environment, umask and limits this
 * process had when it started it (a monitor passes none of them to a container: the plan sets them).
 *
 * EXECDRIVER_SPAWNER=0: no spawner (every monitor spawned by Node, as before).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';

export class Spawner {
  private static current: Promise<Spawner | undefined> | undefined;
  private alive = true;
  /** reaped monitors' wait statuses not yet asked for, and those asked for not yet reaped */
  private readonly statuses = new Map<number, number>();
  private readonly waiting = new Map<number, (status: number | undefined) => void>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly name: string,
    readonly secret: string,
  ) {}

  /** This process's spawner, started on first use; undefined when disabled or it cannot start (then spawn). */
  static get(binary: string): Promise<Spawner | undefined> {
    if (process.env['EXECDRIVER_SPAWNER'] === '0') return Promise.resolve(undefined);
    if (!Spawner.current) Spawner.current = Spawner.start(binary);
    return Spawner.current;
  }

  private static start(binary: string): Promise<Spawner | undefined> {
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        // detached: its own session, out of reach of a terminal's Ctrl-C (as a spawned monitor is)
        child = spawn(binary, ['spawner'], { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
      } catch {
        return resolve(undefined);
      }
      let spawner: Spawner | undefined;
      let buf = '';
      const gone = () => {
        if (!spawner) {
          Spawner.current = undefined;
          return resolve(undefined);
        }
        if (!spawner.alive) return;
        spawner.alive = false;
        Spawner.current = undefined; // the next monitor starts another
        for (const [pid, w] of spawner.waiting) (spawner.waiting.delete(pid), w(undefined));
      };
      child.on('error', gone);
      child.on('exit', gone);
      child.stdin!.on('error', () => {});
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).split(' ');
          buf = buf.slice(nl + 1);
          if (!spawner) {
            const [name = '', secret = ''] = line;
            if (!/^execdriver-spawner-[0-9a-f]+$/.test(name) || !/^[0-9a-f]{32}$/.test(secret)) {
              child.kill('SIGKILL');
              return resolve(undefined);
            }
            spawner = new Spawner(child, name, secret);
            // it must not keep us alive: it ends when we do
            child.unref();
            (child.stdin as Socket).unref();
            (child.stdout as Socket).unref();
            resolve(spawner);
          } else if (line[0] === 'reaped' && line.length === 3) spawner.onReaped(Number(line[1]), Number(line[2]));
        }
      });
    });
  }

  private onReaped(pid: number, status: number): void {
    const w = this.waiting.get(pid);
    if (w) {
      this.waiting.delete(pid);
      this.holdOpen();
      w(status);
    } else this.statuses.set(pid, status);
  }

  /** The wait status of a monitor this spawner forked, once reaped (undefined: the spawner is gone). */
  reaped(pid: number): Promise<number | undefined> {
    const st = this.statuses.get(pid);
    if (st !== undefined) {
      this.statuses.delete(pid);
      return Promise.resolve(st);
    }
    if (!this.alive) return Promise.resolve(undefined);
    const p = new Promise<number | undefined>((resolve) => this.waiting.set(pid, resolve));
    this.holdOpen();
    return p;
  }

  /** Its stdout keeps us alive while someone waits for a monitor's reaping, and only then. */
  private holdOpen(): void {
    const out = this.child.stdout as Socket | null;
    if (this.waiting.size) out?.ref();
    else out?.unref();
  }

  /** A new monitor: the connection that becomes its control socket. */
  connect(): Socket {
    return connect({ path: `\0${this.name}` });
  }

  get running(): boolean {
    return this.alive && this.child.exitCode === null;
  }
}
