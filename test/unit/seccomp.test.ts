import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { normalizeCommand } from '../../src/command.js';
import { CAPABILITIES } from '../../src/capabilities.js';
import { ExecDriverError } from '../../src/errors.js';
import { lxcSeccompProfile } from '../../src/lxc/template.js';
import { buildPlan, finalCapabilities } from '../../src/native/plan.js';
import { type Op } from '../../src/init/protocol.js';
import { cachedProgram, cacheName, compileProgram, seccompBuildOps, seccompFilter } from '../../src/security/seccomp/compile.js';
import { buildSpec } from '../../src/spec/index.js';
import { buildContainerJson } from '../../src/native/template.js';
import { DEFAULT_PROFILE } from '../../src/security/seccomp/default-profile.js';
import { renderLxcSeccomp } from '../../src/security/seccomp/lxc.js';
import { deniedSyscalls, kernelAtLeast, resolveSeccomp, validateSeccompProfile, type ResolvedSeccomp, type SeccompProfile } from '../../src/security/seccomp/profile.js';

/** Docker's 14 default capabilities. */
const DOCKER = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'];
const X64 = { arch: 'x64', kernel: '6.18.0-1-amd64' };
const ARM64 = { arch: 'arm64', kernel: '6.1.0' };

const rulesFor = (r: ResolvedSeccomp, name: string) => r.rules.filter((x) => x.syscall === name);
const allowed = (r: ResolvedSeccomp, name: string) => rulesFor(r, name).some((x) => x.action === 'allow' && x.args.length === 0);

describe('seccomp: the default profile resolved', () => {
  it('x86_64 with Docker\'s capabilities: an EPERM allow-list without the dangerous calls', () => {
    const r = resolveSeccomp(DEFAULT_PROFILE, DOCKER, X64);
    assert.equal(r.name, 'default');
    assert.equal(r.defaultAction, 'errno');
    assert.equal(r.defaultErrno, 1);
    assert.deepEqual(r.arches, ['x86_64', 'x86', 'x32']);
    for (const n of ['read', 'write', 'execve', 'openat2', 'close_range', 'setresuid', 'capset', 'prctl', 'wait4', 'chroot', 'arch_prctl']) {
      assert.ok(allowed(r, n), `${n} allowed`);
    }
    for (const n of ['keyctl', 'add_key', 'request_key', 'mount', 'umount2', 'unshare', 'setns', 'pivot_root', 'io_uring_setup', 'bpf', 'perf_event_open', 'kexec_load', 'init_module', 'finit_module', 'delete_module', 'open_by_handle_at', 'userfaultfd', 'swapon', 'swapoff', 'reboot', 'settimeofday', 'clock_settime', 'acct', 'quotactl', 'lookup_dcookie', 'iopl', 'ioperm', 'kcmp', 'set_tls']) {
      assert.equal(rulesFor(r, n).length, 0, `${n} has no rule (the default EPERM)`);
    }
    // clone only without namespace flags; clone3 ENOSYS
    assert.deepEqual(rulesFor(r, 'clone'), [
      { action: 'allow', errno: 0, syscall: 'clone', args: [{ index: 0, op: 'masked-eq', value: 0x7e020000, valueTwo: 0 }] },
    ]);
    assert.deepEqual(rulesFor(r, 'clone3'), [{ action: 'errno', errno: 38, syscall: 'clone3', args: [] }]);
    assert.deepEqual(rulesFor(r, 'personality').map((x) => x.args[0]!.value), [0, 8, 0x20000, 0x20008, 0xffffffff]);
    // ptrace since 4.8, as Docker
    assert.ok(allowed(r, 'ptrace'));
  });

  it('a capability re-allows its group (cap-add SYS_ADMIN: mount, unshare, clone with flags, clone3)', () => {
    const r = resolveSeccomp(DEFAULT_PROFILE, [...DOCKER, 'SYS_ADMIN', 'SYS_BOOT', 'SYS_TIME', 'BPF', 'PERFMON', 'DAC_READ_SEARCH'], X64);
    for (const n of ['mount', 'umount2', 'unshare', 'setns', 'clone', 'clone3', 'reboot', 'settimeofday', 'bpf', 'perf_event_open', 'open_by_handle_at']) {
      assert.ok(allowed(r, n), `${n} allowed`);
    }
    assert.equal(rulesFor(r, 'clone').length, 1, 'no masked clone rule with SYS_ADMIN');
    assert.ok(!rulesFor(r, 'clone3').some((x) => x.action === 'errno'));
    for (const n of ['keyctl', 'kexec_load', 'init_module', 'swapon', 'pivot_root']) assert.equal(rulesFor(r, n).length, 0);
  });

  it('aarch64: its own architectures and per-arch calls', () => {
    const r = resolveSeccomp(DEFAULT_PROFILE, DOCKER, ARM64);
    assert.deepEqual(r.arches, ['aarch64', 'arm']);
    assert.ok(allowed(r, 'set_tls'));
    assert.equal(rulesFor(r, 'arch_prctl').length, 0);
  });

  it('minKernel: an older kernel leaves out what needs a newer one', () => {
    assert.ok(kernelAtLeast('6.18.0-1-amd64', '5.8'));
    assert.ok(kernelAtLeast('5.8.0', '5.8'));
    assert.ok(!kernelAtLeast('5.4.0', '5.8'));
    assert.ok(!kernelAtLeast('4.4.0', '4.8'));
    const old = resolveSeccomp(DEFAULT_PROFILE, [...DOCKER, 'BPF'], { arch: 'x64', kernel: '4.4.0' });
    assert.equal(rulesFor(old, 'ptrace').length, 0);
    assert.equal(rulesFor(old, 'bpf').length, 0);
    const p: SeccompProfile = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '5.0' } }],
    };
    assert.equal(resolveSeccomp(p, [], { arch: 'x64', kernel: '4.19.0' }).rules.length, 1);
    assert.equal(resolveSeccomp(p, [], { arch: 'x64', kernel: '5.10.0' }).rules.length, 0);
  });

  it('includes.caps needs all of them, excludes.caps any one', () => {
    const p: SeccompProfile = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['a1'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_KILL', 'CAP_CHOWN'] } },
        { names: ['a2'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_KILL', 'CAP_NET_RAW'] } },
        { names: ['a3'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
      ],
    };
    const names = (caps: string[]) => resolveSeccomp(p, caps, X64).rules.map((r) => r.syscall);
    assert.deepEqual(names(['KILL']), []);
    assert.deepEqual(names(['KILL', 'CHOWN']), ['a1']);
    assert.deepEqual(names([]), ['a2']);
  });
});

describe('seccomp: custom profiles', () => {
  it('OCI format: architectures, errnoRet, rules with the default action dropped, two conditions on one argument split', () => {
    const p = validateSeccompProfile({
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [
        { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['getpid'], action: 'SCMP_ACT_ALLOW' },
        {
          names: ['socket'],
          action: 'SCMP_ACT_ERRNO',
          args: [
            { index: 0, value: 40, op: 'SCMP_CMP_EQ' },
            { index: 0, value: 16, op: 'SCMP_CMP_EQ' },
          ],
        },
        { names: ['kill'], action: 'SCMP_ACT_KILL_PROCESS' },
      ],
    });
    const r = resolveSeccomp(p, [], X64);
    assert.deepEqual(r.arches, ['x86_64', 'x86']);
    assert.equal(r.defaultAction, 'allow');
    assert.equal(r.badArchAction, 'errno');
    assert.deepEqual(
      r.rules.map((x) => [x.syscall, x.action, x.errno, x.args.map((a) => a.value)]),
      [
        ['mkdir', 'errno', 13, []],
        ['mkdirat', 'errno', 13, []],
        ['socket', 'errno', 1, [40]],
        ['socket', 'errno', 1, [16]],
        ['kill', 'kill-process', 0, []],
      ],
    );
  });

  const refused = (p: unknown, field: RegExp) =>
    assert.throws(() => validateSeccompProfile(p), (e: unknown) => e instanceof ExecDriverError && e.code === 'ERR_INVALID_CONFIG' && field.test(e.message));

  it('is checked completely, the message names the field', () => {
    refused(null, /must be a JSON object/);
    refused({ defaultAction: 'SCMP_ACT_FOO' }, /defaultAction "SCMP_ACT_FOO" is not a known action/);
    refused({ defaultAction: 'SCMP_ACT_NOTIFY' }, /defaultAction "SCMP_ACT_NOTIFY" is not supported/);
    refused({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: -1 }, /defaultErrnoRet/);
    refused({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_Z80'] }, /architectures\[0\] "SCMP_ARCH_Z80" is not a known architecture/);
    refused({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86'], archMap: [] }, /archMap and architectures cannot both/);
    refused({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'ALLOW' }] }, /syscalls\[0\]\.action "ALLOW"/);
    refused({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW' }] }, /syscalls\[0\] has no syscall names/);
    refused({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['rm -rf'], action: 'SCMP_ACT_ALLOW' }] }, /syscalls\[0\]\.names "rm -rf"/);
    refused({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', errnoRet: 1 }] }, /syscalls\[0\]\.errnoRet is only for/);
    refused(
      { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_XX' }] }] },
      /syscalls\[0\]\.args\[0\]\.op "SCMP_CMP_XX" is not a known operator/,
    );
    refused(
      { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }] },
      /args\[0\]\.index 6 must be 0 to 5/,
    );
    refused({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: 'five' } }] }, /includes\.minKernel/);
    refused({ defaultAction: 'SCMP_ACT_ERRNO', flags: ['SECCOMP_FILTER_FLAG_BOGUS'] }, /flags\[0\]/);
    // archMap may name architectures of other platforms
    validateSeccompProfile({ defaultAction: 'SCMP_ACT_ERRNO', archMap: [{ architecture: 'SCMP_ARCH_LOONGARCH64', subArchitectures: null }] });
    // an unknown syscall name is fine (skipped where the architecture has no such call)
    validateSeccompProfile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['no_such_call'], action: 'SCMP_ACT_ALLOW' }] });
    // and the default profile passes its own check
    validateSeccompProfile(DEFAULT_PROFILE);
  });

  it('a bad profile is refused by normalizeCommand, naming the container', () => {
    const rootfs = mkdtempSync(join(tmpdir(), 'execdriver-unit-'));
    try {
      assert.throws(
        () => normalizeCommand({ id: 'sc1', rootfs, entrypoint: 'true', seccomp: { defaultAction: 'nope' } as never }),
        (e: unknown) => e instanceof ExecDriverError && e.code === 'ERR_INVALID_CONFIG' && e.containerId === 'sc1',
      );
      assert.equal(normalizeCommand({ id: 'sc1', rootfs, entrypoint: 'true', privileged: true }).seccomp, 'unconfined');
      assert.equal(normalizeCommand({ id: 'sc1', rootfs, entrypoint: 'true' }).seccomp, DEFAULT_PROFILE);
    } finally {
      rmSync(rootfs, { recursive: true });
    }
  });
});

describe('seccomp: LXC rendering', () => {
  it("the default profile in LXC's version 2 language", () => {
    const text = renderLxcSeccomp(resolveSeccomp(DEFAULT_PROFILE, DOCKER, X64));
    const lines = text.split('\n');
    assert.deepEqual(lines.slice(0, 2), ['2', 'allowlist errno 1']);
    assert.ok(lines.includes('[all]'));
    assert.ok(lines.includes('read allow'));
    assert.ok(lines.includes('clone3 errno 38'));
    // LXC: (arg & 4th) == 2nd
    assert.ok(lines.includes(`clone allow [0,0,SCMP_CMP_MASKED_EQ,${0x7e020000}]`));
    assert.ok(lines.includes('personality allow [0,8,SCMP_CMP_EQ]'));
    assert.ok(!lines.some((l) => /^(keyctl|mount|bpf) /.test(l)));
  });

  it('a default allow is a denylist; actions LXC lacks are refused', () => {
    const r = resolveSeccomp(
      validateSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }, { names: ['kill'], action: 'SCMP_ACT_KILL' }] }),
      [],
      X64,
    );
    assert.equal(renderLxcSeccomp(r), '2\ndenylist\n# seccomp profile "custom", resolved by execdriver for this container\n[all]\nmkdir errno 1\nkill kill\n');
    const log = resolveSeccomp(validateSeccompProfile({ defaultAction: 'SCMP_ACT_LOG' }), [], X64);
    assert.throws(() => renderLxcSeccomp(log), /cannot apply the action "log"/);
  });

  it('follows the capabilities and privileged', () => {
    const rootfs = mkdtempSync(join(tmpdir(), 'execdriver-unit-'));
    try {
      // the profile is resolved into the spec's linux.seccomp (buildSpec), which LXC's rendering reads
      const all = { names: [...CAPABILITIES], lastCap: 40 };
      const cmd = (over = {}) => buildSpec(normalizeCommand({ id: 'sc2', rootfs, entrypoint: 'true', ...over }), { user: { uid: 0, gid: 0, groups: [] }, cgroupNamespace: false, host: all, platform: X64 });
      assert.equal(lxcSeccompProfile(cmd({ privileged: true }), 40, X64), undefined);
      assert.equal(lxcSeccompProfile(cmd({ seccomp: 'unconfined' }), 40, X64), undefined);
      assert.match(lxcSeccompProfile(cmd({ capAdd: ['SYS_ADMIN'] }), 40, X64)!, /^mount allow$/m);
      assert.doesNotMatch(lxcSeccompProfile(cmd({ capDrop: ['SYS_ADMIN'] }), 40, X64)!, /^mount /m);
    } finally {
      rmSync(rootfs, { recursive: true });
    }
  });
});

describe('seccomp: the native plan', () => {
  const rootfs = mkdtempSync(join(tmpdir(), 'execdriver-unit-'));
  after(() => rmSync(rootfs, { recursive: true, force: true }));
  const plan = (over = {}, uid = 0): Op[] => {
    const cmd = normalizeCommand({ id: 'sc3', rootfs, entrypoint: 'true', ...over });
    const config = buildContainerJson(cmd, { cgroupNamespace: false });
    const filter = cmd.seccomp !== 'unconfined' ? seccompFilter(cmd.seccomp, finalCapabilities(config.capabilities_mask ?? {}, DOCKER, 40), { noNewPrivileges: cmd.noNewPrivileges }) : undefined;
    return buildPlan({
      spec: buildSpec(cmd, { user: { uid, gid: uid, groups: [] }, cgroupNamespace: false }),
      hostCapabilities: DOCKER,
      lastCap: 40,
      exitFile: '/e',
      cleanupCgroups: [],
      detach: false,
      ...(filter ? { seccompFilter: filter } : {}),
    });
  };
  const at = (ops: Op[], name: string) => ops.findIndex((o) => o[0] === name);

  it('the build ops: default, architectures, one rule per call with its conditions', () => {
    const ops = seccompBuildOps(resolveSeccomp(DEFAULT_PROFILE, DOCKER, X64));
    assert.deepEqual(ops[0], ['seccomp-default', 'errno', '1', 'errno', '1']);
    assert.deepEqual(ops.filter((o) => o[0] === 'seccomp-arch').map((o) => o[1]), ['x86_64', 'x86', 'x32']);
    assert.deepEqual(ops.find((o) => o[0] === 'seccomp-rule' && o[3] === 'clone'), ['seccomp-rule', 'allow', '0', 'clone', `0:masked-eq:${0x7e020000}:0`]);
  });

  it('compiled once by the C init (libseccomp): a BPF program, kept', () => {
    const hex = seccompFilter(DEFAULT_PROFILE, DOCKER);
    assert.match(hex, /^([0-9a-f]{16})+$/);
    assert.ok(hex.length / 16 > 100 && hex.length / 16 <= 4096, `${hex.length / 16} instructions`);
    const t0 = process.hrtime.bigint();
    assert.equal(seccompFilter(DEFAULT_PROFILE, DOCKER), hex);
    assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 < 1, 'the second time comes from memory');
    assert.notEqual(seccompFilter(DEFAULT_PROFILE, [...DOCKER, 'SYS_ADMIN']), hex, 'other capabilities, another program');
    // the aarch64 resolution compiles too (libseccomp has its tables even on an x86_64 host)
    assert.ok(compileProgram(resolveSeccomp(DEFAULT_PROFILE, DOCKER, ARM64)).length > 0);
    // a name libseccomp does not know is skipped, not an error
    const unknown = resolveSeccomp(validateSeccompProfile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'no_such_call'], action: 'SCMP_ACT_ALLOW' }] }), []);
    assert.ok(compileProgram(unknown).length > 0);
    // what libseccomp refuses is one clear error
    const bad = { ...resolveSeccomp(DEFAULT_PROFILE, DOCKER), arches: ['x86_64', 'nosucharch'] };
    assert.throws(() => compileProgram(bad), (e: unknown) => e instanceof ExecDriverError && /unknown seccomp architecture \(nosucharch\)/.test(e.message));
  });

  it("a profile that denies what the init calls after loading it is refused (it could not even report why)", () => {
    const p = validateSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['setresuid', 'wait4'], action: 'SCMP_ACT_ERRNO' }], name: 'strict' });
    assert.deepEqual(deniedSyscalls(resolveSeccomp(p, DOCKER), ['execve', 'setresuid', 'wait4']), ['setresuid', 'wait4']);
    assert.deepEqual(deniedSyscalls(resolveSeccomp(DEFAULT_PROFILE, DOCKER), ['execve', 'write', 'clone', 'setresuid', 'openat2', 'close_range']), []);
    assert.deepEqual(deniedSyscalls(resolveSeccomp(DEFAULT_PROFILE, DOCKER), ['mount', 'keyctl']), ['mount', 'keyctl']);
    const refused = (opts: { noNewPrivileges?: boolean; init?: boolean }, what: RegExp) =>
      assert.throws(() => seccompFilter(p, DOCKER, { ...opts, containerId: 'c1' }), (e: unknown) => e instanceof ExecDriverError && e.code === 'ERR_INVALID_CONFIG' && what.test(e.message));
    refused({}, /seccomp profile "strict" denies setresuid, which the container's init needs/);
    refused({ noNewPrivileges: true, init: true }, /denies wait4,/);
    // with no_new_privs only exec follows the filter
    assert.match(seccompFilter(p, DOCKER, { noNewPrivileges: true }), /^[0-9a-f]+$/);
  });

  it('without no_new_privs the filter is loaded before user and caps drop CAP_SYS_ADMIN', () => {
    const ops = plan({}, 1000);
    assert.ok(at(ops, 'session-keyring') < at(ops, 'seccomp-filter'));
    assert.ok(at(ops, 'seccomp-filter') < at(ops, 'user'));
    assert.equal(at(ops, 'no-new-privs'), -1);
  });

  it('with no_new_privs it is the last op before exec', () => {
    const ops = plan({ noNewPrivileges: true });
    assert.ok(at(ops, 'no-new-privs') >= 0 && at(ops, 'no-new-privs') < at(ops, 'seccomp-filter'));
    assert.equal(at(ops, 'seccomp-filter'), ops.length - 2);
    assert.equal(ops.at(-1)![0], 'exec');
  });

  it('unconfined and privileged: no seccomp op; container.json records it', () => {
    for (const over of [{ seccomp: 'unconfined' as const }, { privileged: true }]) {
      const ops = plan(over);
      assert.ok(!ops.some((o) => o[0].startsWith('seccomp')));
      assert.ok(ops.some((o) => o[0] === 'session-keyring'));
    }
    const json = (over = {}) => buildContainerJson(normalizeCommand({ id: 'sc3', rootfs, entrypoint: 'true', ...over }), { cgroupNamespace: false });
    assert.equal(json().seccomp, 'default');
    assert.equal(json().no_new_privileges, undefined);
    assert.equal(json({ privileged: true }).seccomp, 'unconfined');
    assert.equal(json({ noNewPrivileges: true }).no_new_privileges, true);
    assert.equal(json({ seccomp: { defaultAction: 'SCMP_ACT_ALLOW', name: 'mine' } }).seccomp, 'mine');
  });
});

describe('seccomp: the program cache', () => {
  const DOCKER14 = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'];
  it('names a file by its material and uses it only for the same material', () => {
    assert.match(cacheName('a'), /^[0-9a-f]{16}-1$/);
    assert.equal(cacheName('same text'), cacheName('same text'));
    assert.notEqual(cacheName('text a'), cacheName('text b'));
    const file = Buffer.concat([Buffer.from('what it was made from\0'), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])]);
    assert.deepEqual(cachedProgram(file, 'what it was made from'), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
    assert.equal(cachedProgram(file, 'what it was made from, changed'), undefined);
    assert.equal(cachedProgram(Buffer.from([1, 2, 3]), ''), undefined, 'no NUL: not a cache file');
  });
  it('a cache file compiled from other material is compiled again, not used', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edscc-'));
    try {
      // copies of the profile: the process's own memory is per profile object
      const fresh = () => structuredClone(DEFAULT_PROFILE);
      const hex = seccompFilter(fresh(), DOCKER14, { cacheDir: dir });
      const [name] = readdirSync(dir);
      assert.ok(name?.endsWith('.bpf'));
      const kept = readFileSync(join(dir, name!));
      assert.equal(kept.subarray(kept.indexOf(0) + 1).toString('hex'), hex, 'the file holds the program after its material');
      assert.equal(seccompFilter(fresh(), DOCKER14, { cacheDir: dir }), hex, 'read back');
      // same name, other material (as a hash collision would be), and a program of garbage
      writeFileSync(join(dir, name!), Buffer.concat([Buffer.from('other material\0'), Buffer.alloc(64, 0xff)]));
      assert.equal(seccompFilter(fresh(), DOCKER14, { cacheDir: dir }), hex, 'compiled again');
      assert.equal(readFileSync(join(dir, name!)).toString('hex'), kept.toString('hex'), 'and the file made right');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
