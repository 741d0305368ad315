import { InvalidConfigError } from '../errors.js';
import { list, str, type Context, type Values, type Verb } from './args.js';
import { driverOf } from './drivers.js';
import { rawMode, watchResize, windowSize } from './terminal.js';

/** Signals the CLI passes on to the exec'd process (as `run` does to a container). */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export const execVerb: Verb = {
  name: 'exec',
  summary: 'run another command in a running container',
  usage: `execdriver exec [-i] [-t] [-d] [-e K=V]... [-u USER[:GROUP]] [-w DIR] [--privileged] ID [--] CMD [ARG...]

The command joins every namespace and cgroup of the running container, its root, capability set
and seccomp filter, as the container's own process has them. The exit code is the command's
(127 not found, 126 not executable, 128+n after signal n); an unknown container is 125, one that
is stopped or paused is 1.
  -i, --interactive        keep stdin open (send what is typed / piped to it)
  -t, --tty                a terminal of its own (stderr goes to it too)
  -d, --detach             leave it running; its output goes to <state>/exec/<EXEC-ID>/exec.log
  -e, --env K=V            add to the container's environment (repeatable)
  -u, --user USER[:GROUP]  a user of the container's /etc/passwd (names or ids); default the container's
  -w, --workdir DIR        the working directory (default the container's)
      --privileged         every capability of the host and no seccomp filter`,
  options: {
    interactive: { type: 'boolean', short: 'i' },
    tty: { type: 'boolean', short: 't' },
    detach: { type: 'boolean', short: 'd' },
    env: { type: 'string', short: 'e', multiple: true },
    user: { type: 'string', short: 'u' },
    workdir: { type: 'string', short: 'w' },
    privileged: { type: 'boolean' },
    driver: { type: 'string' },
  },
  stopAtPositional: true,
  async run(ctx: Context, values: Values, positionals: string[]): Promise<number> {
    const [id, ...rest] = positionals;
    const args = rest[0] === '--' ? rest.slice(1) : rest;
    if (!id) throw new InvalidConfigError('exec: which container? (execdriver exec ID -- CMD [ARG...])');
    if (!args.length) throw new InvalidConfigError('exec: which command? (execdriver exec ID -- CMD [ARG...])');
    const driver = await driverOf(id, ctx.root, str(values['driver']) ?? ctx.driver);
    const tty = !!values['tty'];
    const user = str(values['user']);
    const cwd = str(values['workdir']);
    const size = tty ? windowSize(process.stdout) : undefined;
    const proc = {
      args,
      env: list(values['env']),
      tty,
      ...(user !== undefined ? { user } : {}),
      ...(cwd !== undefined ? { cwd } : {}),
      ...(values['privileged'] ? { privileged: true } : {}),
      ...(size ? { consoleSize: size } : {}),
    };
    if (values['detach']) {
      const h = await driver.exec(id, proc, { detach: true });
      process.stdout.write(`${h.execId}\n`);
      return 0;
    }
    const interactive = !!values['interactive'];
    const restore = tty && interactive ? rawMode(process.stdin) : () => {};
    let handle: Awaited<ReturnType<typeof driver.exec>> | undefined;
    const forward = (sig: NodeJS.Signals) => void handle?.kill(sig).catch(() => {});
    for (const s of FORWARDED) process.on(s, forward);
    const unwatch = tty ? watchResize(process.stdout, (r, c) => handle?.resize(r, c)) : () => {};
    try {
      handle = await driver.exec(id, proc, {
        // without a terminal our fds 1 and 2 go to the monitor, which copies the output to them
        pipes: { stdin: interactive ? process.stdin : null, stdout: tty ? process.stdout : 1, stderr: tty ? null : 2, end: false },
      });
      const status = await handle.exited;
      if (interactive) process.stdin.pause();
      return status.exitCode;
    } finally {
      unwatch();
      restore();
      for (const s of FORWARDED) process.off(s, forward);
    }
  },
};
