/**
 * The OCI runtimes under test, side by side: runc, crun (run through a wrapper that gives it a mount
 * namespace without /sys/fs/cgroup/unified: on this hybrid-cgroup host crun would otherwise pick
 * cgroup2, where no controller is enabled) and execdriver-oci (bin/execdriver-oci, when it exists).
 * Bundles are made from the host's static busybox (test/helpers.ts makeRootfs), one per case.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, closeSync, cpSync, openSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeRootfs, sleep } from '../helpers.js';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '');
export const EXECDRIVER_OCI = join(REPO, 'bin/execdriver-oci');
export const UNIFIED = '/sys/fs/cgroup/unified';
const which = (b: string) => ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin'].map((d) => join(d, b)).find((p) => existsSync(p));

/** A runtime: the command to run (`bin`, after `pre`), and why it is missing, if it is. */
export interface Runtime {
  name: 'runc' | 'crun' | 'execdriver-oci';
  /** the executable an engine is given (for crun: the wrapper script) */
  bin: string;
  missing?: string;
}

let scratch: string | undefined;
/** A temp dir of this process for wrappers and state roots, removed at exit. */
export function scratchDir(): string {
  if (!scratch) {
    scratch = mkdtempSync(join(tmpdir(), 'edt-interop-'));
    chmodSync(scratch, 0o755);
    const s = scratch;
    process.on('exit', () => rmSync(s, { recursive: true, force: true }));
  }
  return scratch;
}

/** The three runtimes, in the order the cases run (references first). */
export function runtimes(): Runtime[] {
  const runc = which('runc');
  const crun = which('crun');
  let crunWrapper = '';
  if (crun) {
    crunWrapper = join(scratchDir(), 'crun-v1');
    writeFileSync(
      crunWrapper,
      '#!/bin/sh\n# crun in a mount namespace of its own without the cgroup2 mount of this hybrid host\n' +
        `exec unshare --mount --propagation private /bin/sh -c 'umount ${UNIFIED} 2>/dev/null; exec ${crun} "$@"' crun "$@"\n`,
      { mode: 0o755 },
    );
  }
  return [
    { name: 'runc', bin: runc ?? 'runc', ...(runc ? {} : { missing: 'runc is not installed' }) },
    { name: 'crun', bin: crunWrapper || 'crun', ...(crun ? {} : { missing: 'crun is not installed' }) },
    {
      name: 'execdriver-oci',
      bin: EXECDRIVER_OCI,
      ...(existsSync(EXECDRIVER_OCI) ? {} : { missing: 'bin/execdriver-oci does not exist yet (branch oci)' }),
    },
  ];
}

export interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

const ENV: NodeJS.ProcessEnv = { ...process.env };
delete ENV['NODE_EXTRA_CA_CERTS'];

let outSeq = 0;
/**
 * Run a command to completion, its stdout and stderr through files, not pipes: `create` leaves the
 * container's init holding the runtime's stdio, so a pipe would never close.
 */
export function sh(file: string, args: string[], opts: { input?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {}): Result {
  const base = join(scratchDir(), `io-${outSeq++}`);
  const o = openSync(`${base}.out`, 'w+');
  const e = openSync(`${base}.err`, 'w+');
  try {
    const r = spawnSync(file, args, {
      input: opts.input ?? '',
      stdio: ['pipe', o, e],
      timeout: opts.timeout ?? 30_000,
      killSignal: 'SIGKILL',
      env: opts.env ?? ENV,
    });
    const out = readFileSync(`${base}.out`, 'utf8');
    const err = readFileSync(`${base}.err`, 'utf8');
    if (r.error) return { status: null, signal: null, out, err: `${r.error.message} ${err}` };
    return { status: r.status, signal: r.signal, out, err };
  } finally {
    closeSync(o);
    closeSync(e);
    rmSync(`${base}.out`, { force: true });
    rmSync(`${base}.err`, { force: true });
  }
}

/** One runtime with a state root of its own. */
export class Oci {
  readonly root: string;
  constructor(
    readonly rt: Runtime,
    tag: string,
  ) {
    this.root = join(scratchDir(), `root-${rt.name}-${tag}`);
    mkdirSync(this.root, { recursive: true });
  }
  /** `RUNTIME --root ROOT ARGS…` */
  cmd(args: string[], opts: { input?: string; timeout?: number; log?: string; logJson?: boolean } = {}): Result {
    const g = ['--root', this.root];
    if (opts.log) g.push('--log', opts.log);
    if (opts.logJson) g.push('--log-format', 'json');
    return sh(this.rt.bin, [...g, ...args], opts);
  }
  /** like cmd(), throwing unless it exits 0 */
  ok(args: string[], opts: { input?: string; timeout?: number } = {}): string {
    const r = this.cmd(args, opts);
    if (r.status !== 0) throw new Error(`${this.rt.name} ${args.join(' ')}: exit ${r.status ?? r.signal}: ${r.err.trim().slice(0, 400)}`);
    return r.out;
  }
  state(id: string): { status: string; pid: number; id: string; bundle: string; ociVersion: string; annotations?: Record<string, string> } {
    return JSON.parse(this.ok(['state', id])) as never;
  }
  /** ids in the state root (the OCI root must be empty once everything is deleted) */
  entries(): string[] {
    return existsSync(this.root) ? readdirSync(this.root) : [];
  }
  /** delete --force every container still listed, then remove the root */
  cleanup(): void {
    const listed = this.cmd(['list', '-q']).out.split('\n').filter(Boolean);
    for (const id of new Set([...listed, ...this.entries()])) this.cmd(['delete', '--force', id]);
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** The process part of a config.json our cases start from. */
const CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];
export const DEFAULT_CAPS = CAPS;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Config = Record<string, any>;

/** A config.json as `runc spec` would write it, trimmed: the defaults every case changes from. */
export function baseConfig(args: string[], cgroupsPath: string): Config {
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root'],
      cwd: '/',
      capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: 'oci',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      cgroupsPath,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

let template: string | undefined;
/** A bundle dir: a busybox rootfs at `rootfs` and the config.json (if any). */
export function makeBundle(config: Config | undefined): string {
  if (!template) {
    const t = makeRootfs();
    template = t.dir;
    process.on('exit', t.cleanup);
  }
  const dir = mkdtempSync(join(scratchDir(), 'bundle-'));
  chmodSync(dir, 0o755);
  cpSync(template, join(dir, 'rootfs'), { recursive: true, verbatimSymlinks: true });
  if (config) writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 1));
  return dir;
}

/** The host path of a process's cgroup for a v1 controller (or the cgroup2 dir when it has no v1 line). */
export function cgroupDir(pid: number, controller: string): string | undefined {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  for (const l of lines) {
    const [, ctrls, path] = l.split(':');
    if (ctrls?.split(',').includes(controller)) return join('/sys/fs/cgroup', controller, path ?? '');
  }
  const v2 = lines.find((l) => l.startsWith('0::'));
  return v2 ? join(UNIFIED, v2.slice(3)) : undefined;
}

/** Cgroup directories anywhere under /sys/fs/cgroup whose name contains `tag` (a leak check). */
export function cgroupsNamed(tag: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let ents;
    try {
      ents = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents) {
      if (!e.isDirectory()) continue;
      const p = join(dir, e.name);
      if (e.name.includes(tag)) found.push(p);
      else if (depth < 3) walk(p, depth + 1);
    }
  };
  for (const c of readdirSync('/sys/fs/cgroup')) walk(join('/sys/fs/cgroup', c), 0);
  return found;
}

/** Mounts of the host whose mount point or source contains `tag`. */
export function mountsNamed(tag: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(tag));
}

/** Processes whose command line contains `tag`. */
export function processesNamed(tag: string): string[] {
  const out: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(tag)) out.push(`${p} ${cmd}`);
    } catch {
      /* gone */
    }
  }
  return out;
}

const PTY_HELPER = join(REPO, 'test/pty-session.py');
/** A command on a pty of its own (test/pty-session.py): type, resize, read. */
export class Pty {
  private readonly proc: ChildProcessWithoutNullStreams;
  private raw = '';
  readonly exited: Promise<number>;
  constructor(rows: number, cols: number, argv: string[], env?: NodeJS.ProcessEnv) {
    this.proc = spawn('python3', [PTY_HELPER, String(rows), String(cols), '--', ...argv], { env: env ?? ENV });
    this.proc.stdout.on('data', (d: Buffer) => (this.raw += d.toString()));
    this.proc.stderr.on('data', () => undefined);
    this.exited = new Promise((resolve) => this.proc.on('close', (code) => resolve(code ?? -1)));
  }
  get out(): string {
    return this.raw.replace(/\r/g, '');
  }
  type(keys: string): void {
    this.proc.stdin.write(`w ${Buffer.from(keys).toString('hex')}\n`);
  }
  resize(rows: number, cols: number): void {
    this.proc.stdin.write(`r ${rows} ${cols}\n`);
  }
  async expect(re: RegExp, ms = 15_000): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(this.out)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}; the terminal shows ${JSON.stringify(this.out.slice(-400))}`);
      await sleep(30);
    }
  }
  async code(ms = 20_000): Promise<number> {
    const c = await Promise.race([this.exited, sleep(ms).then(() => 'timeout' as const)]);
    if (c === 'timeout') {
      this.proc.kill('SIGKILL');
      throw new Error(`did not exit; the terminal shows ${JSON.stringify(this.out.slice(-400))}`);
    }
    return c;
  }
  kill(): void {
    this.proc.kill('SIGKILL');
  }
}

/** A console-socket receiver (python3: Node cannot receive an fd over SCM_RIGHTS): what the pty shows. */
export function consoleReceiver(path: string): { ready: Promise<void>; done: Promise<string>; stop: () => void } {
  const py = [
    'import socket,sys,os,array',
    's=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(1)',
    'print("ready",flush=True)',
    'c,_=s.accept()',
    'msg,fds,flags,addr=socket.recv_fds(c,4096,1)',
    'm=fds[0]; out=b""',
    'while True:',
    '  try: d=os.read(m,4096)',
    '  except OSError: break',
    '  if not d: break',
    '  out+=d',
    'sys.stdout.write(out.decode(errors="replace"))',
  ].join('\n');
  const p = spawn('python3', ['-c', py, path]);
  let out = '';
  let ready: () => void = () => undefined;
  const isReady = new Promise<void>((r) => (ready = r));
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('ready\n')) ready();
  });
  const done = new Promise<string>((resolve) => p.on('close', () => resolve(out.replace(/^ready\n/, '').replace(/\r/g, ''))));
  p.on('close', () => ready());
  return { ready: isReady, done, stop: () => p.kill('SIGKILL') };
}
