/**
 * Device rules on cgroup v2: the kernel has no `devices.allow` there, but runs a
 * BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup on every open and mknod of a device
 * node. This module renders the same allow-list the v1 `devices` files get (DEFAULT_DEVICE_RULES,
 * after a deny of everything) into that program's instructions. Pure: the C init only loads and
 * attaches the bytes (native/bpf.c, the `device-filter` op).
 *
 * The program's context is `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`,
 * `access_type` = access bits << 16 | device type. It returns 1 to allow, 0 to deny (EPERM).
 */
import { InvalidConfigError } from '../errors.js';
import type { DeviceMode } from './resources.js';
import { allowRulesOf } from './controllers/devices.js';

/** One allow rule, as in `devices.allow`: `c 1:3 rwm`, `b *:* m`, `a`. */
export interface DeviceRule {
  type: 'a' | 'b' | 'c';
  /** undefined: any (`*`) */
  major?: number;
  minor?: number;
  /** a subset of `rwm` */
  access: string;
}

/** The kernel's constants (include/uapi/linux/bpf.h). */
export const BPF_DEVCG = { DEV_BLOCK: 1, DEV_CHAR: 2, ACC_MKNOD: 1, ACC_READ: 2, ACC_WRITE: 4 } as const;

const RULE = /^([abc])(?: (\*|\d+):(\*|\d+) ([rwm]{1,3}))?$/;

/** `c 136:* rwm` → a rule; throws InvalidConfigError for anything else. */
export function parseDeviceRule(text: string): DeviceRule {
  const m = RULE.exec(text.trim());
  if (!m) throw new InvalidConfigError(`invalid device rule ${JSON.stringify(text)} (expected "c|b|a MAJOR|*:MINOR|* rwm")`);
  const [, type, major, minor, access] = m;
  const n = (s: string | undefined) => (s === undefined || s === '*' ? undefined : Number(s));
  const rule: DeviceRule = { type: type as DeviceRule['type'], access: access ?? 'rwm' };
  const ma = n(major);
  const mi = n(minor);
  if (ma !== undefined) rule.major = ma;
  if (mi !== undefined) rule.minor = mi;
  if ((ma ?? 0) > 0xfff || (mi ?? 0) > 0xfffff) throw new InvalidConfigError(`invalid device rule ${JSON.stringify(text)}: major or minor out of range`);
  return rule;
}

/** The rules of a device mode: the allow-list, or everything. */
export function deviceRules(mode: DeviceMode): DeviceRule[] {
  return mode === 'allow-all' ? [{ type: 'a', access: 'rwm' }] : allowRulesOf(mode).map(parseDeviceRule);
}

/** One eBPF instruction: opcode, dst and src registers, 16-bit offset, 32-bit immediate. */
export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** Opcodes used (class | op | source). */
export const OP = {
  LDX_W: 0x61, // BPF_LDX | BPF_MEM | BPF_W:   dst = *(u32 *)(src + off)
  AND32_K: 0x54, // BPF_ALU | BPF_AND | BPF_K:  dst = (u32)(dst & imm)
  RSH32_K: 0x74, // BPF_ALU | BPF_RSH | BPF_K:  dst = (u32)dst >> imm
  MOV32_X: 0xbc, // BPF_ALU | BPF_MOV | BPF_X:  dst = (u32)src
  MOV64_K: 0xb7, // BPF_ALU64 | BPF_MOV | BPF_K: dst = imm
  JNE_K: 0x55, // BPF_JMP | BPF_JNE | BPF_K:   if dst != imm goto pc + 1 + off
  JNE_X: 0x5d, // BPF_JMP | BPF_JNE | BPF_X:   if dst != src goto pc + 1 + off
  EXIT: 0x95, // BPF_JMP | BPF_EXIT:           return r0
} as const;

const ins = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });

/** The access bits of `rwm`. */
function accessBits(access: string): number {
  let bits = 0;
  if (access.includes('m')) bits |= BPF_DEVCG.ACC_MKNOD;
  if (access.includes('r')) bits |= BPF_DEVCG.ACC_READ;
  if (access.includes('w')) bits |= BPF_DEVCG.ACC_WRITE;
  return bits;
}

const ALL_ACCESS = BPF_DEVCG.ACC_MKNOD | BPF_DEVCG.ACC_READ | BPF_DEVCG.ACC_WRITE;

/**
 * The program: load type (r2), access (r3), major (r4), minor (r5); then one block per rule that
 * jumps to the next block on the first mismatch and returns 1 at its end (an access is allowed
 * when every bit asked is in the rule's); after the last block, return 0. A rule that matches
 * everything ends the program (the verifier refuses unreachable instructions).
 */
export function deviceProgram(rules: readonly DeviceRule[]): Insn[] {
  const p: Insn[] = [
    ins(OP.LDX_W, 2, 1, 0), // r2 = ctx->access_type
    ins(OP.AND32_K, 2, 0, 0, 0xffff), // r2 = device type
    ins(OP.LDX_W, 3, 1, 0), // r3 = ctx->access_type
    ins(OP.RSH32_K, 3, 0, 0, 16), // r3 = access asked
    ins(OP.LDX_W, 4, 1, 4), // r4 = ctx->major
    ins(OP.LDX_W, 5, 1, 8), // r5 = ctx->minor
  ];
  for (const r of rules) {
    const checks: Insn[][] = [];
    if (r.type !== 'a') checks.push([ins(OP.JNE_K, 2, 0, 0, r.type === 'b' ? BPF_DEVCG.DEV_BLOCK : BPF_DEVCG.DEV_CHAR)]);
    const bits = accessBits(r.access);
    if (bits !== ALL_ACCESS) {
      // r1 = r3 & bits; if r1 != r3 (something asked that the rule lacks): next
      checks.push([ins(OP.MOV32_X, 1, 3), ins(OP.AND32_K, 1, 0, 0, bits), ins(OP.JNE_X, 1, 3)]);
    }
    if (r.major !== undefined) checks.push([ins(OP.JNE_K, 4, 0, 0, r.major)]);
    if (r.minor !== undefined) checks.push([ins(OP.JNE_K, 5, 0, 0, r.minor)]);
    const block = [...checks.flat(), ins(OP.MOV64_K, 0, 0, 0, 1), ins(OP.EXIT)];
    // every jump of the block lands just past its end
    block.forEach((insn, i) => {
      if (insn.code === OP.JNE_K || insn.code === OP.JNE_X) insn.off = block.length - 1 - i;
    });
    p.push(...block);
    if (checks.length === 0) return p; // matches everything: nothing after it can run
  }
  p.push(ins(OP.MOV64_K, 0, 0, 0, 0), ins(OP.EXIT));
  return p;
}

/** The instructions as the kernel reads them (struct bpf_insn, little endian). */
export function encodeProgram(insns: readonly Insn[]): Buffer {
  const b = Buffer.alloc(insns.length * 8);
  insns.forEach((x, i) => {
    b.writeUInt8(x.code, i * 8);
    b.writeUInt8(((x.src & 0xf) << 4) | (x.dst & 0xf), i * 8 + 1);
    b.writeInt16LE(x.off, i * 8 + 2);
    b.writeInt32LE(x.imm, i * 8 + 4);
  });
  return b;
}

/** The program of a device mode as the plan carries it: hexadecimal text, 16 digits an instruction. */
export function deviceFilterHex(mode: DeviceMode): string {
  return encodeProgram(deviceProgram(deviceRules(mode))).toString('hex');
}
