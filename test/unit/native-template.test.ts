import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { normalizeCommand } from '../../src/command.js';
import { buildPlan, CLONE, MS } from '../../src/native/plan.js';
import { encodeFrame, encodeFrames, encodePlan, FrameDecoder, type ContainerOp, type Op } from '../../src/init/protocol.js';
import { processTail } from '../../src/init/tail.js';
import { PROTOCOL_VERSION } from '../../src/init/protocol.js';
import { buildContainerJson } from '../../src/native/template.js';
import { buildSpec } from '../../src/spec/index.js';
import type { ResolvedUser } from '../../src/users.js';

const rootfs = mkdtempSync(join(tmpdir(), 'execdriver-unit-'));
after(() => rmSync(rootfs, { recursive: true, force: true }));

const base = { id: 'abc', rootfs, entrypoint: 'sh', arguments: ['-c', 'true'] };
const user = { uid: 0, gid: 0, groups: [] };
// the plan is rendered from the container's spec (src/spec/), built here as the driver builds it
const specOf = (cmd: Parameters<typeof buildSpec>[0], u: ResolvedUser = user, cgroupNamespace = true, network?: Parameters<typeof buildSpec>[1]['network']) =>
  buildSpec(cmd, { user: u, cgroupNamespace, ...(network ? { network } : {}) });
const plan = (over = {}, extra = {}) => {
  return buildPlan({
    spec: specOf(normalizeCommand({ ...base, ...over })),
    hostCapabilities: ['CHOWN', 'KILL', 'SYS_ADMIN', 'MKNOD', 'NET_RAW', 'SETUID', 'SETGID'],
    lastCap: 40,
    exitFile: '/state/exit.json',
    cleanupCgroups: ['/sys/fs/cgroup/memory/execdriver/abc'],
    detach: false,
    ...extra,
  });
};
const names = (ops: readonly Op[]): string[] => ops.map((o) => o[0]);

describe('container.json (the default template)', () => {
  it('keeps the seed field names and the default template', () => {
    const c = buildContainerJson(normalizeCommand({ ...base, hostname: 'h1', env: ['A=1'], resources: { memory: 64 << 20, pidsLimit: 20 } }), {
      cgroupNamespace: false,
    });
    assert.equal(c.hostname, 'h1');
    assert.deepEqual(c.namespaces, { NEWNS: true, NEWUTS: true, NEWIPC: true, NEWPID: true, NEWNET: true });
    assert.equal(c.capabilities_mask?.['SYS_ADMIN'], false);
    assert.equal(c.capabilities_mask?.['MKNOD'], true);
    assert.deepEqual(c.cgroups, { name: 'abc', parent: 'execdriver', memory: 64 << 20, pids_limit: 20 });
    assert.equal(c.context?.['restrictions'], 'true');
    assert.deepEqual(c.mounts, [{ type: 'devtmpfs' }]);
    assert.deepEqual(c.networks, [{ type: 'loopback', address: '127.0.0.1/0', gateway: 'localhost', mtu: 1500 }]);
    assert.ok(c.environment?.includes('A=1'));
    assert.equal('readonly_fs' in c, false, 'empty fields are omitted');
  });
  it('privileged: every capability, all devices, no restrictions', () => {
    const c = buildContainerJson(normalizeCommand({ ...base, privileged: true }), { cgroupNamespace: false });
    assert.equal(c.capabilities_mask?.['SYS_ADMIN'], true);
    assert.ok(Object.values(c.capabilities_mask ?? {}).every(Boolean));
    assert.equal(c.cgroups.device_access, true);
    assert.equal(c.context?.['restrictions'], undefined);
  });
  it('host network: no NEWNET, no networks', () => {
    const c = buildContainerJson(normalizeCommand({ ...base, network: { mode: 'host' } }), { cgroupNamespace: false });
    assert.equal(c.namespaces['NEWNET'], undefined);
    assert.equal(c.networks, undefined);
  });
});

describe('the plan', () => {
  it('orders the steps as SPEC §2 says', () => {
    const n = names(plan());
    const at = (op: string) => n.indexOf(op);
    assert.equal(n[0], 'clone');
    assert.ok(at('unshare') < at('root'), 'cgroup namespace before mounts');
    assert.ok(at('ifup') < at('root'), 'networks before mounts');
    assert.ok(at('mknod') < at('pivot'));
    assert.ok(at('pivot') < at('readonly') && at('readonly') < at('mask'));
    assert.ok(at('sethostname') < at('bounding'));
    assert.ok(at('bounding') < at('closefds') && at('closefds') < at('user') && at('user') < at('caps'));
    assert.ok(at('caps') < at('chdir') && at('chdir') < at('exec'));
    assert.equal(n.at(-1), 'exec');
  });
  it('clone flags are the five namespaces; the cgroup one is unshared later', () => {
    const flags = Number(plan()[0]![1]);
    assert.equal(flags, CLONE.NEWNS | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWPID | CLONE.NEWNET);
  });
  it('the exit file is fsync\'d when the record outlives its owner (detached), not for a foreground run', () => {
    const exitOp = (ops: readonly Op[]) => ops.find((o) => o[0] === 'exit-file');
    assert.deepEqual(exitOp(plan()), ['exit-file', '/state/exit.json', 'nosync']);
    assert.deepEqual(exitOp(plan({}, { detach: true })), ['exit-file', '/state/exit.json']);
  });
  it('capabilities are limited to what the host has', () => {
    const caps = plan().find((o) => o[0] === 'caps')!;
    // CHOWN, KILL, SETGID, SETUID, NET_RAW, MKNOD: no SYS_ADMIN (dropped by default)
    assert.equal(caps[1], '0x80020e1');
  });
  it('a non-root user gets no capabilities of its own', () => {
    const p = buildPlan({
      spec: specOf(normalizeCommand(base), { uid: 1000, gid: 1000, groups: [5] }, false),
      hostCapabilities: ['CHOWN'],
      lastCap: 40,
      exitFile: '/e',
      cleanupCgroups: [],
      detach: true,
    });
    assert.deepEqual(p.find((o) => o[0] === 'user'), ['user', '1000', '1000', '5']);
    assert.deepEqual(p.find((o) => o[0] === 'caps'), ['caps', '0x0', '0x0', '0x0']);
    assert.ok(names(p).includes('detach'));
  });
  it('ambient capabilities: permitted, inheritable and ambient for a non-root user, raised after caps', () => {
    const p = buildPlan({
      spec: specOf(normalizeCommand({ ...base, capAmbient: ['NET_RAW'] }), { uid: 1000, gid: 1000, groups: [] }, false),
      hostCapabilities: ['CHOWN', 'NET_RAW'],
      lastCap: 40,
      exitFile: '/e',
      cleanupCgroups: [],
      detach: false,
    });
    assert.deepEqual(p.find((o) => o[0] === 'caps'), ['caps', '0x2000', '0x2000', '0x2000']);
    const n = names(p);
    assert.equal(n.indexOf('ambient'), n.indexOf('caps') + 1);
    assert.deepEqual(p.find((o) => o[0] === 'ambient'), ['ambient', '0x2000']);
    assert.throws(() => normalizeCommand({ ...base, capAmbient: ['SYS_ADMIN'] }), /SYS_ADMIN are not kept/);
  });
  it('the process tail is one list for both drivers: keyring, bounding, seccomp before the user (after it with no_new_privs), exec last', () => {
    const sets = { bounding: ['CHOWN'], effective: ['CHOWN'], permitted: ['CHOWN'], inheritable: [], ambient: [] };
    const base = { sets, user: { uid: 0, gid: 0, groups: [] }, middle: [['chdir', '/'] as ContainerOp], env: ['PATH=/bin'], args: ['sh'] };
    const n = names(processTail({ ...base, noNewPrivileges: false, seccompFilter: '00' }));
    assert.deepEqual(n, ['session-keyring', 'bounding', 'closefds', 'seccomp-filter', 'user', 'caps', 'chdir', 'env', 'exec']);
    const nnp = names(processTail({ ...base, noNewPrivileges: true, seccompFilter: '00', setEnv: false }));
    assert.deepEqual(nnp, ['session-keyring', 'no-new-privs', 'bounding', 'closefds', 'user', 'caps', 'chdir', 'seccomp-filter', 'exec']);
    assert.deepEqual(processTail({ ...base, noNewPrivileges: false }).at(-1), ['exec', '/bin', 'sh']);
  });
  it('read-only volumes are remounted read-only; read-only root after pivot', () => {
    const vol = mkdtempSync(join(tmpdir(), 'execdriver-unit-vol-'));
    try {
      const p = plan({ readonlyRootfs: true, mounts: [{ source: vol, destination: '/data', writable: false }] });
      const i = p.findIndex((o) => o[0] === 'mount' && o[1] === vol);
      assert.deepEqual(p[i], ['mount', vol, 'data', '', String(MS.BIND | MS.REC), '', 'dir']);
      assert.deepEqual(p[i + 1], ['mount', '', 'data', '', String(MS.REMOUNT | MS.BIND | MS.RDONLY), '', '']);
      const ro = p.findIndex((o) => o[0] === 'mount' && o[2] === '/' && Number(o[4]) & MS.REMOUNT);
      assert.ok(ro > p.findIndex((o) => o[0] === 'pivot'));
    } finally {
      rmSync(vol, { recursive: true, force: true });
    }
  });
  it("bridge mode: the C init configures eth0 (address, broadcast, up, default route) after loopback", () => {
    const p = plan({}, {});
    assert.equal(p.some((o) => o[0] === 'ifaddr'), false, 'no veth without an address');
    const cmd = normalizeCommand({ ...base, network: { mode: 'bridge' } });
    const network = { mode: 'bridge' as const, bridge: 'br0', ipAddress: '10.88.3.7', prefixLen: 16, gateway: '10.88.0.1', mtu: 1400 };
    const config = buildContainerJson(cmd, { cgroupNamespace: false, network });
    assert.deepEqual(config.networks?.[1], {
      type: 'veth',
      context: { bridge: 'br0', prefix: 'veth' },
      address: '10.88.3.7/16',
      gateway: '10.88.0.1',
      mtu: 1400,
    });
    const ops = buildPlan({ spec: specOf(cmd, user, false, network), hostCapabilities: [], lastCap: 40, exitFile: '/e', cleanupCgroups: [], detach: false });
    const i = ops.findIndex((o) => o[0] === 'ifaddr');
    assert.deepEqual(ops.slice(i - 1, i + 3), [
      ['ifup', 'lo'],
      ['ifaddr', 'eth0', '10.88.3.7', '16', '10.88.255.255'],
      ['ifup', 'eth0'],
      ['route-default', '10.88.0.1'],
    ]);
  });
  it('exec looks up the command on the container PATH', () => {
    const p = plan({ env: ['PATH=/x:/y'] });
    assert.deepEqual(p.at(-1), ['exec', '/x:/y', 'sh', '-c', 'true']);
  });
  it('frames round-trip through the decoder, split anywhere', () => {
    const frames = [['a', 'b c', ''], ['ü', '\n\0x']];
    const wire = encodeFrames(frames);
    const d = new FrameDecoder();
    const got: string[][] = [];
    for (let i = 0; i < wire.length; i += 3) got.push(...d.push(wire.subarray(i, i + 3)));
    assert.deepEqual(got, [...frames, ['end']]);
    assert.equal(encodeFrame([]).length, 4);
  });
  it('a plan on the wire starts with the protocol version', () => {
    const ops: Op[] = [['clone', '0'], ['exec', '', '/bin/true']];
    assert.deepEqual(new FrameDecoder().push(encodePlan(ops)), [['protocol', String(PROTOCOL_VERSION)], ...ops, ['end']]);
  });
});
