import { spawn } from 'node:child_process';
import { finished } from 'node:stream/promises';
import { createReadStream, createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { validateId } from '../id.js';
import { InvalidConfigError, NotFoundError } from '../errors.js';
import { driverFor, knownDrivers } from './drivers.js';
import type { Verb } from './args.js';

/** `ID:/path` → [id, path]; a host path → undefined. */
function containerSide(arg: string): [string, string] | undefined {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*):(.*)$/s.exec(arg);
  if (!m || arg.startsWith('/') || arg.startsWith('.')) return undefined;
  return [validateId(m[1]!), m[2]!.startsWith('/') ? m[2]! : `/${m[2]!}`];
}

/**
 * Where a container's files are: a running container's own root (/proc/PID/root, its volumes and
 * tmpfs included), a stopped one's rootfs. The path inside is resolved by the C init, never here.
 */
async function rootOf(root: string, id: string): Promise<string> {
  const driver = knownDrivers().find((d) => existsSync(join(root, d, id)));
  if (!driver) throw new NotFoundError(id, root);
  const info = (await driverFor(driver, root)).inspect(id);
  if (info.running && info.pid) return `/proc/${info.pid}/root`;
  const spec = JSON.parse(readFileSync(join(root, driver, id, 'config.json'), 'utf8')) as { root?: { path?: string } };
  if (!spec.root?.path) throw new InvalidConfigError(`cp: container ${id} records no root filesystem`);
  return spec.root.path;
}

export const cpVerb: Verb = {
  name: 'cp',
  summary: 'copy a file between the host and a container (ID:/path)',
  usage: `execdriver cp SRC DST

One side is ID:/PATH, the other a host path ('-': stdin or stdout). Regular files only. A path in
the container is resolved inside its root as the container sees it: its symbolic links never
lead to a host file. DST a directory: the file keeps its name in it.`,
  options: {},
  async run(ctx, _values, args) {
    if (args.length !== 2) throw new InvalidConfigError('cp: expected SRC DST (one of them ID:/PATH)');
    const [src, dst] = args as [string, string];
    const from = containerSide(src);
    const to = containerSide(dst);
    if (!!from === !!to) throw new InvalidConfigError('cp: exactly one of SRC and DST is a container path (ID:/PATH)');
    const { INIT_BINARY } = await import('../init/monitor.js');
    const run = (argv: string[], stdin: NodeJS.ReadableStream | 'ignore', stdout: NodeJS.WritableStream | 'ignore') =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(INIT_BINARY, argv, { stdio: [stdin === 'ignore' ? 'ignore' : 'pipe', stdout === 'ignore' ? 'ignore' : 'pipe', 'pipe'] });
        let err = '';
        child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        if (stdin !== 'ignore') stdin.pipe(child.stdin!);
        if (stdout !== 'ignore') child.stdout!.pipe(stdout, { end: stdout !== process.stdout });
        child.on('error', reject);
        child.on('close', (code) => {
          if (code === 0) return resolve();
          reject(new InvalidConfigError(`cp: ${err.trim().replace(/^execdriver-init: /, '') || `failed (exit ${code})`}`));
        });
      });
    if (from) {
      const root = await rootOf(ctx.root, from[0]);
      let out = dst;
      if (dst !== '-' && existsSync(dst) && statSync(dst).isDirectory()) out = join(dst, basename(from[1]));
      const sink = dst === '-' ? process.stdout : createWriteStream(out);
      await run(['copy-out', root, from[1]], 'ignore', sink);
      // the file may be finished already (then `finish` was emitted before us): finished() knows
      if (sink !== process.stdout) await finished(sink as NodeJS.WritableStream);
    } else {
      const root = await rootOf(ctx.root, to![0]);
      let mode = 0o644;
      if (src !== '-') {
        const st = statSync(src);
        if (!st.isFile()) throw new InvalidConfigError(`cp: ${src} is not a regular file (only files are copied)`);
        mode = st.mode & 0o777;
      }
      const input = src === '-' ? process.stdin : createReadStream(src);
      await run(['copy-in', root, to![1], src === '-' ? 'stdin' : basename(src), mode.toString(8)], input, 'ignore');
    }
    return 0;
  },
};
