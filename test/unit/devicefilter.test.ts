import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BPF_DEVCG,
  deviceFilterHex,
  deviceProgram,
  deviceRules,
  encodeProgram,
  OP,
  parseDeviceRule,
  type DeviceRule,
  type Insn,
} from '../../src/cgroups/devicefilter.js';
import { DEFAULT_DEVICE_RULES } from '../../src/cgroups/resources.js';
import type { CgroupLayout } from '../../src/cgroups/layout.js';
import { normalizeCommand } from '../../src/command.js';
import type { Command } from '../../src/driver.js';
import { usesDeviceFilter } from '../../src/native/driver.js';

/** Run the program as the kernel would, for the few opcodes it uses (anything else fails the test). */
function run(prog: readonly Insn[], type: 'b' | 'c', access: string, major: number, minor: number): number {
  let acc = 0;
  if (access.includes('m')) acc |= BPF_DEVCG.ACC_MKNOD;
  if (access.includes('r')) acc |= BPF_DEVCG.ACC_READ;
  if (access.includes('w')) acc |= BPF_DEVCG.ACC_WRITE;
  const ctx = [(acc << 16) | (type === 'b' ? BPF_DEVCG.DEV_BLOCK : BPF_DEVCG.DEV_CHAR), major, minor];
  const r = new Array<number>(11).fill(0);
  let pc = 0;
  for (let steps = 0; steps < 10_000; steps++) {
    const x = prog[pc];
    assert.ok(x, `pc ${pc} runs off the program`);
    pc++;
    switch (x.code) {
      case OP.LDX_W:
        assert.equal(x.src, 1);
        assert.ok(x.off % 4 === 0 && x.off >= 0 && x.off <= 8, `ctx offset ${x.off}`);
        r[x.dst] = ctx[x.off / 4]! >>> 0;
        break;
      case OP.AND32_K:
        r[x.dst] = (r[x.dst]! & x.imm) >>> 0;
        break;
      case OP.RSH32_K:
        r[x.dst] = r[x.dst]! >>> x.imm;
        break;
      case OP.MOV32_X:
        r[x.dst] = r[x.src]! >>> 0;
        break;
      case OP.MOV64_K:
        r[x.dst] = x.imm;
        break;
      case OP.JNE_K:
        if (r[x.dst] !== x.imm) pc += x.off;
        break;
      case OP.JNE_X:
        if (r[x.dst] !== r[x.src]) pc += x.off;
        break;
      case OP.EXIT:
        return r[0]!;
      default:
        assert.fail(`unexpected opcode 0x${x.code.toString(16)}`);
    }
  }
  assert.fail('the program loops');
}

/** What the v1 devices cgroup would decide for the same rules (after `deny a`). */
function v1Allows(rules: readonly DeviceRule[], type: 'b' | 'c', access: string, major: number, minor: number): boolean {
  return rules.some(
    (r) =>
      (r.type === 'a' || r.type === type) &&
      (r.major === undefined || r.major === major) &&
      (r.minor === undefined || r.minor === minor) &&
      [...access].every((a) => r.access.includes(a)),
  );
}

describe('device filter (BPF_PROG_TYPE_CGROUP_DEVICE)', () => {
  it('parses devices.allow rules', () => {
    assert.deepEqual(parseDeviceRule('c 1:3 rwm'), { type: 'c', major: 1, minor: 3, access: 'rwm' });
    assert.deepEqual(parseDeviceRule('b *:* m'), { type: 'b', access: 'm' });
    assert.deepEqual(parseDeviceRule('c 136:* rw'), { type: 'c', major: 136, access: 'rw' });
    assert.deepEqual(parseDeviceRule('a'), { type: 'a', access: 'rwm' });
    for (const bad of ['x 1:3 rwm', 'c 1:3', 'c 1-3 rwm', 'c 1:3 rwx', 'c 4096:0 r', '']) assert.throws(() => parseDeviceRule(bad), /invalid device rule/);
  });

  it('loads the context, then one block per rule, instruction by instruction', () => {
    const p = deviceProgram([{ type: 'c', major: 1, minor: 3, access: 'rwm' }, { type: 'b', access: 'm' }]);
    const I = (code: number, dst = 0, src = 0, off = 0, imm = 0) => ({ code, dst, src, off, imm });
    assert.deepEqual(p, [
      I(OP.LDX_W, 2, 1, 0), // r2 = access_type
      I(OP.AND32_K, 2, 0, 0, 0xffff), // r2 = type
      I(OP.LDX_W, 3, 1, 0),
      I(OP.RSH32_K, 3, 0, 0, 16), // r3 = access
      I(OP.LDX_W, 4, 1, 4), // r4 = major
      I(OP.LDX_W, 5, 1, 8), // r5 = minor
      // c 1:3 rwm: type, major, minor; no access check (all of it)
      I(OP.JNE_K, 2, 0, 4, BPF_DEVCG.DEV_CHAR),
      I(OP.JNE_K, 4, 0, 3, 1),
      I(OP.JNE_K, 5, 0, 2, 3),
      I(OP.MOV64_K, 0, 0, 0, 1),
      I(OP.EXIT),
      // b *:* m: type, then access asked ⊆ m
      I(OP.JNE_K, 2, 0, 5, BPF_DEVCG.DEV_BLOCK),
      I(OP.MOV32_X, 1, 3),
      I(OP.AND32_K, 1, 0, 0, BPF_DEVCG.ACC_MKNOD),
      I(OP.JNE_X, 1, 3, 2),
      I(OP.MOV64_K, 0, 0, 0, 1),
      I(OP.EXIT),
      // nothing matched: deny
      I(OP.MOV64_K, 0, 0, 0, 0),
      I(OP.EXIT),
    ]);
  });

  it('encodes struct bpf_insn little endian, dst in the low nibble', () => {
    const b = encodeProgram([{ code: OP.JNE_X, dst: 1, src: 3, off: 2, imm: 0 }, { code: OP.MOV64_K, dst: 0, src: 0, off: 0, imm: -2 }]);
    assert.equal(b.toString('hex'), '5d31020000000000' + 'b7000000feffffff');
    assert.equal(b.length, 16);
  });

  it('privileged: allow everything, and nothing after that', () => {
    const p = deviceProgram(deviceRules('allow-all'));
    assert.equal(p.length, 8);
    assert.deepEqual(p.slice(-2), [
      { code: OP.MOV64_K, dst: 0, src: 0, off: 0, imm: 1 },
      { code: OP.EXIT, dst: 0, src: 0, off: 0, imm: 0 },
    ]);
    assert.equal(run(p, 'b', 'rw', 8, 0), 1);
    // an unconditional rule ends the program: later rules would be unreachable (the verifier refuses those)
    assert.equal(deviceProgram([{ type: 'a', access: 'rwm' }, { type: 'c', major: 1, minor: 3, access: 'r' }]).length, 8);
  });

  it('decides as the v1 devices cgroup does, for every device and access', () => {
    const rules = deviceRules('default');
    assert.equal(rules.length, DEFAULT_DEVICE_RULES.length);
    const p = deviceProgram(rules);
    const accesses = ['r', 'w', 'm', 'rw', 'rm', 'wm', 'rwm'];
    let checked = 0;
    for (const type of ['b', 'c'] as const) {
      for (const major of [0, 1, 4, 5, 7, 8, 10, 136, 137, 4095]) {
        for (const minor of [0, 1, 2, 3, 5, 7, 8, 9, 11, 200, 201, 1048575]) {
          for (const a of accesses) {
            assert.equal(run(p, type, a, major, minor) === 1, v1Allows(rules, type, a, major, minor), `${type} ${major}:${minor} ${a}`);
            checked++;
          }
        }
      }
    }
    assert.ok(checked > 1000);
    // the cases that matter
    assert.equal(run(p, 'b', 'm', 8, 0), 1, 'mknod of any block device');
    assert.equal(run(p, 'b', 'r', 8, 0), 0, 'reading /dev/sda');
    assert.equal(run(p, 'c', 'rw', 1, 3), 1, '/dev/null');
    assert.equal(run(p, 'c', 'rw', 136, 7), 1, '/dev/pts/7');
    assert.equal(run(p, 'c', 'r', 1, 1), 0, '/dev/mem');
  });

  it('the plan carries hex, 16 digits an instruction', () => {
    const hex = deviceFilterHex('default');
    assert.match(hex, /^[0-9a-f]+$/);
    assert.equal(hex.length % 16, 0);
    assert.equal(hex.length / 16, deviceProgram(deviceRules('default')).length);
  });

  it('used always on a v2 host, on a hybrid host when asked, never when privileged', () => {
    const v2: CgroupLayout = { mode: 'v2', v1: new Map(), v2: { mountpoint: '/sys/fs/cgroup', controllers: ['memory', 'pids'] } };
    const hybrid: CgroupLayout = { mode: 'hybrid', v1: new Map([['devices', { mountpoint: '/sys/fs/cgroup/devices', controllers: ['devices'] }]]), v2: { mountpoint: '/sys/fs/cgroup/unified', controllers: [] } };
    const v1: CgroupLayout = { mode: 'v1', v1: hybrid.v1 };
    const cmd = (over: Partial<Command> = {}) => normalizeCommand({ id: 'x', rootfs: '/', entrypoint: 'true', ...over });
    const asked = (v: unknown) => ({ config: { native: { cgroup2_devices: v as boolean } } });
    assert.equal(usesDeviceFilter(cmd(), v2), true);
    assert.equal(usesDeviceFilter(cmd(asked(false)), v2), true, 'nothing else enforces the rules on v2');
    assert.equal(usesDeviceFilter(cmd(), hybrid), false);
    assert.equal(usesDeviceFilter(cmd(asked(true)), hybrid), true);
    assert.equal(usesDeviceFilter(cmd(asked('true')), hybrid), true);
    assert.equal(usesDeviceFilter(cmd({ privileged: true, ...asked(true) }), hybrid), false);
    assert.equal(usesDeviceFilter(cmd({ privileged: true }), v2), false);
    assert.equal(usesDeviceFilter(cmd(), v1), false);
    assert.throws(() => usesDeviceFilter(cmd(asked(true)), v1), /no cgroup2 mount/);
    assert.throws(() => usesDeviceFilter(cmd(asked('yes')), hybrid), /must be true or false/);
  });
});
