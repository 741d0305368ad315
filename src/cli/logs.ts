import { closeSync, existsSync, openSync, readSync, statSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidConfigError, NotFoundError } from '../errors.js';
import { validateId } from '../id.js';
import { knownDrivers } from './drivers.js';
import { int, type Verb } from './args.js';

/** The last N lines of a buffer. */
function tail(buf: Buffer, n: number): Buffer {
  if (n <= 0) return Buffer.alloc(0);
  let end = buf.length;
  if (end && buf[end - 1] === 0x0a) end--;
  let i = end;
  for (let k = 0; k < n; k++) {
    i = buf.lastIndexOf(0x0a, i - 1);
    if (i < 0) return buf;
  }
  return buf.subarray(i + 1);
}

const write = (b: Buffer) => new Promise<void>((res) => (b.length === 0 || process.stdout.write(b) ? res() : process.stdout.once('drain', res)));

export const logsVerb: Verb = {
  name: 'logs',
  summary: "print a detached container's output (stdout and stderr)",
  usage: `execdriver logs [-f] [--tail N] ID

  -f, --follow   go on printing what it writes, until it exits
  -n, --tail N   only the last N lines (of container.log and its rotated files)

container.log is bounded (run --log-opt max-size=, max-file=); older output is in
container.log.1, .2 … while kept. It records no timestamps: -t and --since are refused.`,
  options: {
    follow: { type: 'boolean', short: 'f' },
    tail: { type: 'string', short: 'n' },
    timestamps: { type: 'boolean', short: 't' },
    since: { type: 'string' },
    driver: { type: 'string' },
  },
  async run(ctx, values, [id]) {
    if (!id) throw new InvalidConfigError('logs: which container? (execdriver logs ID)');
    validateId(id);
    if (values['timestamps']) throw new InvalidConfigError('--timestamps: container.log records no timestamps');
    if (values['since'] !== undefined) throw new InvalidConfigError('--since: container.log records no timestamps');
    const n = values['tail'] === 'all' ? undefined : int(values['tail'], '--tail');
    if (n !== undefined && n < 0) throw new InvalidConfigError(`--tail: ${n} is not a number of lines`);
    const driver = knownDrivers().find((d) => existsSync(join(ctx.root, d, id)));
    if (!driver) throw new NotFoundError(id, ctx.root);
    const file = join(ctx.root, driver, id, 'container.log');
    if (!existsSync(file)) throw new InvalidConfigError(`logs: container ${id} has no log (only a detached container without -t has one)`);
    // the rotated files first (oldest first), then the current one
    const rotated: string[] = [];
    for (let k = 1; existsSync(`${file}.${k}`); k++) rotated.unshift(`${file}.${k}`);
    const readAll = (f: string): Buffer => {
      const fd = openSync(f, 'r');
      try {
        const size = fstatSync(fd).size;
        const b = Buffer.alloc(size);
        let off = 0;
        while (off < size) {
          const r = readSync(fd, b, off, size - off, off);
          if (r <= 0) break;
          off += r;
        }
        return b.subarray(0, off);
      } finally {
        closeSync(fd);
      }
    };
    let fd = openSync(file, 'r');
    let pos = 0;
    const initial = Buffer.concat([...rotated.map(readAll), (() => {
      const b = readAll(file);
      pos = b.length;
      return b;
    })()]);
    await write(n === undefined ? initial : tail(initial, n));
    if (!values['follow']) {
      closeSync(fd);
      return 0;
    }
    const { driverFor } = await import('./drivers.js');
    const d = await driverFor(driver, ctx.root);
    const chunk = Buffer.alloc(65536);
    const drain = async () => {
      for (;;) {
        const r = readSync(fd, chunk, 0, chunk.length, pos);
        if (r <= 0) break;
        pos += r;
        await write(chunk.subarray(0, r));
      }
    };
    const ino = () => {
      try {
        return statSync(file).ino;
      } catch {
        return -1;
      }
    };
    let done = false;
    const exited = d.wait(id, 0).then(
      () => void (done = true),
      () => void (done = true),
    );
    void exited;
    for (;;) {
      await drain();
      if (ino() !== fstatSync(fd).ino && ino() !== -1) {
        // rotated: the rest of the old file, then the new one from its start
        await drain();
        closeSync(fd);
        fd = openSync(file, 'r');
        pos = 0;
        continue;
      }
      if (done) {
        await drain();
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    closeSync(fd);
    return 0;
  },
};
