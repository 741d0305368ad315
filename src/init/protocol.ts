/**
 * The protocol between TypeScript and the C init (native/PROTOCOL.md), typed: its version and
 * every op of a plan, with its kind and its arguments. A plan is built of `Op`s, so a misspelt op
 * or a wrong number of arguments is a type error. The C init has the same table (native/ops.c);
 * `execdriver-init protocol` prints it and test/native/protocol.test.ts compares the two.
 */

/**
 * The plan protocol's version: the first frame of every plan is `["protocol", VERSION]`, and an
 * init of another version refuses the plan. Raise it with any change of the op table (an op
 * added, removed, or its arguments or meaning changed), on both sides (PROTOCOL_VERSION in
 * native/execdriver-init.h), so that an init built from older sources says so.
 */
export const PROTOCOL_VERSION = 7;

/** `monitor`: consumed by the monitor itself; `container`: carried out by the child, in order. */
export type OpKind = 'monitor' | 'container';

interface OpSpec {
  readonly kind: OpKind;
  /** the arguments, by name (their meaning is in native/PROTOCOL.md) */
  readonly args: readonly string[];
  /** any number of further arguments after `args` */
  readonly variadic?: true;
}

/** Every op of the plan protocol (PROTOCOL.md's tables), in the C table's order. */
export const OPS = {
  // the monitor's
  clone: { kind: 'monitor', args: ['flags'] },
  detach: { kind: 'monitor', args: [] },
  'exit-file': { kind: 'monitor', args: ['path'], variadic: true }, // PATH [nosync]
  'oom-counter': { kind: 'monitor', args: ['path'] },
  'cleanup-cgroup': { kind: 'monitor', args: ['dir'] },
  init: { kind: 'monitor', args: [] },
  'signals-forward': { kind: 'monitor', args: [] },
  tty: { kind: 'monitor', args: ['rows', 'cols'] },
  'attach-socket': { kind: 'monitor', args: ['path', 'buffer'] },
  'log-relay': { kind: 'monitor', args: [], variadic: true }, // [socket]
  'device-filter': { kind: 'monitor', args: ['dir', 'program'] },
  mkfifo: { kind: 'monitor', args: ['path', 'mode'] },
  'thaw-on-kill': { kind: 'monitor', args: ['file', 'value'] },
  'event-log': { kind: 'monitor', args: ['path', 'maxbytes', 'driver', 'id', 'execid'] },
  'oom-watch': { kind: 'monitor', args: ['file'] },
  'lxc-log': { kind: 'monitor', args: ['path'] },
  'mount-source': { kind: 'monitor', args: ['path', 'idmap'] },
  'net-helper': { kind: 'monitor', args: ['path'], variadic: true },
  'log-rotate': { kind: 'monitor', args: ['path', 'maxsize', 'maxfiles'] },
  'log-times': { kind: 'monitor', args: ['path'] },
  'console-socket': { kind: 'monitor', args: ['path'] },
  leave: { kind: 'monitor', args: [] },
  'cgroup-join': { kind: 'monitor', args: ['file'] },
  // the container's
  root: { kind: 'container', args: ['path'] },
  unshare: { kind: 'container', args: ['flags'] },
  setns: { kind: 'container', args: ['path', 'flags'] },
  mount: { kind: 'container', args: ['source', 'target', 'fstype', 'flags', 'data', 'mktarget'] },
  mask: { kind: 'container', args: ['target'] },
  readonly: { kind: 'container', args: ['target'] },
  mknod: { kind: 'container', args: ['path', 'type', 'mode', 'major', 'minor'] },
  symlink: { kind: 'container', args: ['target', 'path'] },
  chown: { kind: 'container', args: ['path', 'uid', 'gid'] },
  pivot: { kind: 'container', args: [] },
  'chroot-move': { kind: 'container', args: [] },
  sethostname: { kind: 'container', args: ['name'] },
  ifup: { kind: 'container', args: ['name'] },
  ifaddr: { kind: 'container', args: ['name', 'address', 'prefixlen', 'broadcast'] },
  'route-default': { kind: 'container', args: ['gateway'] },
  umask: { kind: 'container', args: ['mode'] },
  ctty: { kind: 'container', args: [] },
  bounding: { kind: 'container', args: ['keep'] },
  user: { kind: 'container', args: ['uid', 'gid', 'groups'] },
  caps: { kind: 'container', args: ['effective', 'permitted', 'inheritable'] },
  ambient: { kind: 'container', args: ['mask'] },
  'no-new-privs': { kind: 'container', args: [] },
  pdeathsig: { kind: 'container', args: ['signal'] },
  closefds: { kind: 'container', args: [] },
  chdir: { kind: 'container', args: ['path'] },
  env: { kind: 'container', args: ['assignment'] },
  console: { kind: 'container', args: ['ptmx', 'target'] },
  'console-raw-output': { kind: 'container', args: [] },
  'session-keyring': { kind: 'container', args: ['name'] },
  'seccomp-filter': { kind: 'container', args: ['program'] },
  'move-mount': { kind: 'container', args: ['index', 'target', 'mktarget'] },
  join: { kind: 'container', args: ['pid', 'mode'] },
  'exec-fifo': { kind: 'container', args: ['path'] },
  'exec-wait': { kind: 'container', args: [] },
  'hook-state': { kind: 'container', args: ['path'] },
  hook: { kind: 'container', args: ['path', 'timeout', 'nargs'], variadic: true },
  setdomainname: { kind: 'container', args: ['name'] },
  personality: { kind: 'container', args: ['persona'] },
  exec: { kind: 'container', args: ['searchpath', 'arg0'], variadic: true },
  // cli (issue 12): native/settings.c
  rlimit: { kind: 'container', args: ['type', 'soft', 'hard'] },
  sysctl: { kind: 'container', args: ['key', 'value'] },
  workdir: { kind: 'container', args: ['path', 'uid', 'gid'] },
} as const satisfies Record<string, OpSpec>;

export type OpName = keyof typeof OPS;
export type MonitorOpName = { [N in OpName]: (typeof OPS)[N]['kind'] extends 'monitor' ? N : never }[OpName];
export type ContainerOpName = Exclude<OpName, MonitorOpName>;

type Strings<T extends readonly string[]> = { -readonly [K in keyof T]: string };
type ArgsOf<S extends OpSpec> = S extends { variadic: true } ? [...Strings<S['args']>, ...string[]] : Strings<S['args']>;

/** The arguments of op N, as the C init takes them (numbers as decimal, octal or hex text). */
export type OpArgs<N extends OpName> = ArgsOf<(typeof OPS)[N]>;

/** One op of a plan: its name, then exactly its arguments. */
export type Op = { [N in OpName]: [N, ...OpArgs<N>] }[OpName];
/** An op that only the child carries out (a `run-plan` file holds nothing else). */
export type ContainerOp = Extract<Op, [ContainerOpName, ...string[]]>;

/** The header frame every plan starts with. */
export const PROTOCOL_FRAME: readonly string[] = ['protocol', String(PROTOCOL_VERSION)];

/** One op as `execdriver-init protocol` prints it: NAME KIND ARITY (`N+`: at least N). */
export function describeOp(name: OpName): string {
  const spec: OpSpec = OPS[name];
  return `${name} ${spec.kind} ${spec.args.length}${spec.variadic ? '+' : ''}`;
}

/**
 * The ops of the seccomp compiler (`execdriver-init seccomp-compile`, native/security.c): frames
 * on its stdin, no protocol header (the compiled program is cached under the binary's identity).
 */
export type SeccompBuildOp =
  | ['seccomp-default', string, string, string, string]
  | ['seccomp-arch', string]
  | ['seccomp-rule', string, string, string, ...string[]];

/**
 * The init's answer to a plan of another protocol version (`["error", "protocol#-1", …]`), or an
 * older init's that knows no `protocol` op (`plan#0`, unknown op): the version it speaks (0 when
 * it has none), else undefined.
 */
export function initProtocolOf(frame: readonly string[] | undefined): number | undefined {
  if (!frame || frame[0] !== 'error') return undefined;
  const [, step = '', , path = '', message = ''] = frame;
  if (step.startsWith('protocol#')) return Number(/speaks protocol (\d+)/.exec(message)?.[1] ?? 0);
  if (step === 'plan#0' && path === 'protocol' && /unknown op/.test(message)) return 0;
  return undefined;
}

/** Frames on the wire: u32le count, then u32le length + bytes for every field. */
export function encodeFrame(fields: readonly (string | Uint8Array)[]): Buffer {
  return encodeAll([fields]);
}

/** A plan on the wire: the protocol frame, its ops, `["end"]`. */
export function encodePlan(ops: readonly Op[]): Buffer {
  return encodeFrames([PROTOCOL_FRAME, ...ops]);
}

/** Frames up to `["end"]`, with no protocol frame (the seccomp compiler's input). */
export function encodeFrames(frames: readonly (readonly string[])[]): Buffer {
  return encodeAll([...frames, END_FRAME]);
}

const END_FRAME: readonly string[] = ['end'];

/** Frames into one buffer, sized first (one allocation for a whole plan, not one per field). */
function encodeAll(frames: readonly (readonly (string | Uint8Array)[])[]): Buffer {
  let size = 0;
  for (const f of frames) {
    size += 4;
    for (const x of f) size += 4 + (typeof x === 'string' ? Buffer.byteLength(x, 'utf8') : x.byteLength);
  }
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for (const f of frames) {
    out.writeUInt32LE(f.length, off);
    off += 4;
    for (const x of f) {
      const len = typeof x === 'string' ? out.write(x, off + 4, 'utf8') : (out.set(x, off + 4), x.byteLength);
      out.writeUInt32LE(len, off);
      off += 4 + len;
    }
  }
  return out;
}

/** Incremental frame decoder for the monitor's replies. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): string[][] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames: string[][] = [];
    for (;;) {
      const f = this.tryOne();
      if (!f) break;
      frames.push(f);
    }
    return frames;
  }
  private tryOne(): string[] | undefined {
    const b = this.buf;
    if (b.length < 4) return undefined;
    const count = b.readUInt32LE(0);
    let off = 4;
    const fields: string[] = [];
    for (let i = 0; i < count; i++) {
      if (b.length < off + 4) return undefined;
      const len = b.readUInt32LE(off);
      off += 4;
      if (b.length < off + len) return undefined;
      fields.push(b.toString('utf8', off, off + len));
      off += len;
    }
    this.buf = b.subarray(off);
    return fields;
  }
}
