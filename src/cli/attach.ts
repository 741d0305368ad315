import { constants, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { ExecDriverError, InvalidConfigError, NotRunningError } from '../errors.js';
import type { ManagedDriver } from '../driver.js';
import { str, type Verb } from './args.js';
import { driverOf } from './drivers.js';
import { rawMode, watchResize, windowSize } from './terminal.js';

export const attachVerb: Verb = {
  name: 'attach',
  summary: "connect to a detached tty container's terminal (Ctrl-P Ctrl-Q detaches)",
  usage: `execdriver attach [--detach-keys KEYS] [--no-stdin] ID

Connects this terminal to a container started with run -d -t: first the output no attach has
seen yet (the last 64 KiB at most), then live. The detach keys leave it running; when it exits,
attach exits with its exit code. A container run -d without -t: its output (stdout and stderr)
from now on, until it exits (Ctrl-C leaves it running); run -d -i: what is typed goes to its
stdin (the end of ours does not close its own; the detach keys leave it).
      --detach-keys KEYS   keys that detach: ctrl-p,ctrl-q (default), ctrl-a,d …; '' for none
      --no-stdin           do not send what is typed`,
  options: { 'detach-keys': { type: 'string' }, 'no-stdin': { type: 'boolean' }, driver: { type: 'string' } },
  async run(ctx, values, [id]) {
    if (!id) throw new InvalidConfigError('attach: which container? (execdriver attach ID)');
    const driver = await driverOf(id, ctx.root, str(values['driver']) ?? ctx.driver);
    // without a terminal (run -d without -t): its output as it comes (logs -f from now) until it
    // exits; with run -d -i our stdin goes to its stdin (a FIFO it holds open: our EOF is not its)
    const dir = join(ctx.root, driver.name().split('-')[0]!, id);
    if (!existsSync(join(dir, 'attach.sock')) && existsSync(join(dir, 'container.log'))) {
      return attachPlain(ctx.root, id, dir, driver, values['no-stdin'] ? null : process.stdin, str(values['detach-keys']));
    }
    if (!driver.attach) {
      throw new ExecDriverError('ERR_DRIVER_UNAVAILABLE', `the ${driver.name()} driver cannot attach to a terminal`, { containerId: id });
    }
    const stdin = values['no-stdin'] ? null : process.stdin;
    const detachKeys = str(values['detach-keys']);
    const size = windowSize(process.stdout);
    const restore = stdin ? rawMode(stdin) : () => {};
    try {
      const session = await driver.attach(id, {
        stdin,
        stdout: process.stdout,
        ...(detachKeys !== undefined ? { detachKeys } : {}),
        ...(size ? { size } : {}),
      });
      const unwatch = watchResize(process.stdout, (rows, cols) => session.resize(rows, cols));
      const how = await session.done;
      unwatch();
      return how === 'detached' ? 0 : (await driver.wait(id)).exitCode;
    } finally {
      restore();
    }
  },
};

/** attach to a detached container without a terminal: its log followed, our stdin to its FIFO */
async function attachPlain(root: string, id: string, dir: string, driver: ManagedDriver, stdin: NodeJS.ReadStream | null, keys: string | undefined): Promise<number> {
  const { DEFAULT_DETACH_KEYS, DetachKeys, parseDetachKeys } = await import('../init/console.js');
  const detach = new DetachKeys(parseDetachKeys(keys ?? DEFAULT_DETACH_KEYS));
  if (!driver.inspect(id).running) throw new NotRunningError(id, 'is not running (start it first)');
  const { showLogs } = await import('./logs.js');
  const stop = new AbortController();
  const fifo = join(dir, 'stdin');
  let sink: import('node:net').Socket | undefined;
  let feed = () => {};
  if (stdin && existsSync(fifo)) {
    let fd: number;
    try {
      fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW); // ENXIO: no reader, it has exited
    } catch {
      throw new NotRunningError(id, 'is not running (start it first)');
    }
    const { Socket } = await import('node:net');
    const out = (sink = new Socket({ fd, readable: false, writable: true }));
    out.on('error', () => stdin.pause()); // EPIPE: it has exited
    stdin.pause();
    feed = () => stdin.resume();
    stdin.on('data', (chunk: Buffer) => {
      const { data, detach: done } = detach.push(chunk);
      if (data.length && !out.destroyed) out.write(data);
      if (done) stop.abort();
    });
    stdin.on('end', () => out.end());
  }
  try {
    await showLogs(root, id, { follow: true, tail: 0, signal: stop.signal, onFollowing: () => feed() });
  } finally {
    stdin?.pause();
    if (stdin && sink) stdin.destroy();
    sink?.destroy();
  }
  return stop.signal.aborted ? 0 : (await driver.wait(id)).exitCode;
}
