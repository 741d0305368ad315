/** User namespaces, the pure parts: subordinate ranges, maps, the plan's ops, config.lxc lines. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseVolume } from '../../src/cli/run.js';
import { normalizeCommand } from '../../src/command.js';
import { renderConfig, type LxcRenderContext } from '../../src/lxc/template.js';
import type { NormalizedCommand } from '../../src/command.js';
import { CAPABILITIES } from '../../src/capabilities.js';
import { buildPlan, CLONE } from '../../src/native/plan.js';
import { type Op } from '../../src/init/protocol.js';
import { buildSpec } from '../../src/spec/index.js';
import { buildContainerJson } from '../../src/native/template.js';
import { checkRootless, rootlessMappings, rootlessRoot } from '../../src/rootless.js';
import { checkMappable, hostIdOf, mapText, parseSubIds, parseUsernsFlag, remapMappings, resolveUserns, validateMappings } from '../../src/userns.js';

const dir = mkdtempSync(join(tmpdir(), 'execdriver-unit-userns-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const maps = [{ containerID: 0, hostID: 200000, size: 65536 }];
const root = { uid: 0, gid: 0, groups: [] as number[] };


/** config.lxc of a Command: its spec (buildSpec, as the driver builds it) rendered (the user and joined namespace go into the spec). */
function renderCmd(
  cmd: NormalizedCommand,
  ctx: Omit<LxcRenderContext, 'id'> & { user: { uid: number; gid: number; groups: number[] }; netnsPath?: string },
): string {
  const { user, netnsPath, ...rest } = ctx;
  const spec = buildSpec(cmd, { user, cgroupNamespace: true, ...(ctx.network ? { network: ctx.network } : {}), ...(netnsPath ? { netnsPath } : {}), host: { names: [...CAPABILITIES], lastCap: 40 } });
  return renderConfig(spec, { id: cmd.id, ...rest });
}

describe('user namespaces (pure)', () => {
  it('subordinate ranges by name or uid; malformed lines skipped', () => {
    const text = 'alice:100000:65536\n# c\nbob:x:1\n1001:300000:10\nexecdriver:165536:65536\n';
    assert.deepEqual(parseSubIds(text, 'alice'), [[100000, 65536]]);
    assert.deepEqual(parseSubIds(text, 'carol', 1001), [[300000, 10]]);
    assert.deepEqual(parseSubIds(text, 'bob'), []);
  });

  it('remap reads the first range of the user; none is an error naming the command', () => {
    writeFileSync(join(dir, 'subuid'), 'someone:100000:65536\n');
    writeFileSync(join(dir, 'subgid'), 'someone:300000:65536\n');
    const files = { subuid: join(dir, 'subuid'), subgid: join(dir, 'subgid') };
    assert.deepEqual(remapMappings('someone', files), {
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 300000, size: 65536 }],
      user: 'someone',
    });
    assert.throws(() => remapMappings('nobody-here', files), /"nobody-here" has no subordinate uid range.*useradd .*usermod --add-subuids 365536-431071/);
  });

  it('OCI mappings are checked: sizes, overlaps, combination with userns', () => {
    assert.deepEqual(validateMappings(maps, 'uidMappings'), maps);
    assert.throws(() => validateMappings([], 'uidMappings'), /1 to 340/);
    assert.throws(() => validateMappings([{ containerID: 0, hostID: 1, size: 0 }], 'uidMappings'), /invalid mapping/);
    assert.throws(
      () => validateMappings([{ containerID: 0, hostID: 1000, size: 10 }, { containerID: 10, hostID: 1005, size: 10 }], 'uidMappings'),
      /overlap on the host side/,
    );
    assert.equal(resolveUserns(undefined, undefined, undefined), undefined);
    assert.equal(resolveUserns('host', undefined, undefined), undefined);
    assert.deepEqual(resolveUserns(undefined, maps, maps), { uidMappings: maps, gidMappings: maps });
    assert.throws(() => resolveUserns('host', maps, maps), /cannot be combined/);
    assert.throws(() => resolveUserns('sideways', undefined, undefined), /invalid userns/);
    assert.equal(hostIdOf(maps, 1000), 201000);
    assert.equal(hostIdOf(maps, 70000), undefined);
    assert.equal(mapText([...maps, { containerID: 70000, hostID: 5, size: 1 }]), '0 200000 65536\n70000 5 1\n');
  });

  it('--userns and -v ...:idmap on the command line', () => {
    assert.equal(parseUsernsFlag('remap'), 'remap');
    assert.equal(parseUsernsFlag('host'), 'host');
    assert.deepEqual(parseUsernsFlag('remap:alice'), { mode: 'remap', user: 'alice' });
    assert.throws(() => parseUsernsFlag('private'), /invalid --userns/);
    assert.deepEqual(parseVolume('/a:/b:ro,idmap'), { source: '/a', destination: '/b', writable: false, idmap: true });
    assert.deepEqual(parseVolume('/a:/b'), { source: '/a', destination: '/b', writable: true });
  });

  it('the container user must be mapped', () => {
    assert.throws(() => checkMappable({ uidMappings: [{ containerID: 0, hostID: 200000, size: 10 }], gidMappings: maps }, { uid: 1000, gid: 0 }, 'c'), /not mapped/);
    checkMappable({ uidMappings: maps, gidMappings: maps }, { uid: 1000, gid: 1000 }, 'c');
  });

  it('the plan: NEWUSER, the monitor opens the rootfs idmapped and the volumes, root first, host device nodes bound', () => {
    const vol = mkdtempSync(join(dir, 'vol-'));
    const cmd = normalizeCommand({
      id: 'u1', rootfs: dir, entrypoint: 'true', uidMappings: maps, gidMappings: maps, network: { mode: 'none' },
      mounts: [{ source: vol, destination: '/plain' }, { source: vol, destination: '/mapped', idmap: true }],
    });
    const config = buildContainerJson(cmd, { cgroupNamespace: true });
    assert.deepEqual(config.uid_mappings, maps);
    const ops = buildPlan({ spec: buildSpec(cmd, { user: root, cgroupNamespace: true }), hostCapabilities: ['CHOWN'], lastCap: 40, exitFile: '/e', cleanupCgroups: [], detach: false });
    const find = (pred: (o: Op) => boolean) => ops.findIndex(pred);
    assert.ok(Number(ops[0]![1]) & CLONE.NEWUSER);
    const rootSrc = find((o) => o[0] === 'mount-source' && o[1] === dir);
    assert.deepEqual(ops[rootSrc], ['mount-source', dir, 'idmap']);
    assert.deepEqual(ops[rootSrc + 1], ['mount-source', vol, '']);
    assert.deepEqual(ops[rootSrc + 2], ['mount-source', vol, 'idmap']);
    const firstChild = find((o) => o[0] === 'unshare');
    assert.deepEqual(ops[firstChild - 1], ['user', '0', '0', '']);
    assert.deepEqual(ops[find((o) => o[0] === 'move-mount' && o[2] === dir)], ['move-mount', String(rootSrc), dir, '']);
    assert.deepEqual(ops[find((o) => o[0] === 'move-mount' && o[2] === 'mapped')], ['move-mount', String(rootSrc + 2), 'mapped', 'dir']);
    assert.equal(find((o) => o[0] === 'mknod'), -1);
    assert.ok(ops.some((o) => o[0] === 'mount' && o[1] === '/dev/null' && o[2] === 'dev/null'));
    assert.equal(find((o) => o[0] === 'mount' && o[1] === dir), -1, 'no plain bind of the rootfs');
    // --net host: sysfs cannot be mounted, the host's is bound
    const host = buildSpec(normalizeCommand({ id: 'u2', rootfs: dir, entrypoint: 'true', uidMappings: maps, gidMappings: maps, network: { mode: 'host' } }), { user: root, cgroupNamespace: true });
    const hops = buildPlan({ spec: host, hostCapabilities: [], lastCap: 40, exitFile: '/e', cleanupCgroups: [], detach: false });
    assert.ok(hops.some((o) => o[0] === 'mount' && o[1] === '/sys' && o[2] === 'sys'));
    assert.ok(!hops.some((o) => o[3] === 'sysfs'));
  });

  it('the plan: --net slirp4netns starts the helper from the monitor with the fds net-helper gives', () => {
    const cmd = normalizeCommand({ id: 's1', rootfs: dir, entrypoint: 'true', network: { mode: 'slirp4netns' } });
    const config = buildContainerJson(cmd, { cgroupNamespace: true });
    assert.ok(config.namespaces['NEWNET']);
    const ops = buildPlan({ spec: buildSpec(cmd, { user: root, cgroupNamespace: true }), hostCapabilities: [], lastCap: 40, exitFile: '/e', cleanupCgroups: [], detach: false, netHelper: ['/usr/bin/slirp4netns', '/proc/self/fd/5', 'tap0'] });
    assert.deepEqual(ops.find((o) => o[0] === 'net-helper'), ['net-helper', '/usr/bin/slirp4netns', '/proc/self/fd/5', 'tap0']);
    assert.ok(ops.some((o) => o[0] === 'ifup' && o[1] === 'lo'));
  });

  it('config.lxc: lxc.idmap lines, the rootfs idmapped, idmap volumes', () => {
    const vol = mkdtempSync(join(dir, 'vol-'));
    const cmd = normalizeCommand({ id: 'u3', rootfs: dir, entrypoint: 'true', uidMappings: maps, gidMappings: maps, readonlyRootfs: true, network: { mode: 'none' }, mounts: [{ source: vol, destination: '/m', idmap: true }] });
    const text = renderCmd(cmd, {
      facts: { controllers: { devices: 1, memory: 1, cpu: 1, cpuset: 1, pids: 1 }, swapAccounting: true, lastCap: 40 },
      user: { uid: 0, gid: 0, groups: [] }, network: { mode: 'none' },
    });
    assert.match(text, /^lxc\.idmap = u 0 200000 65536$/m);
    assert.match(text, /^lxc\.idmap = g 0 200000 65536$/m);
    assert.match(text, /^lxc\.rootfs\.options = idmap=container,ro$/m);
    assert.match(text, /^lxc\.mount\.entry = \S+ m none bind,rw,idmap=container 0 0$/m);
    const host = renderCmd(normalizeCommand({ id: 'u4', rootfs: dir, entrypoint: 'true', uidMappings: maps, gidMappings: maps, network: { mode: 'host' } }), {
      facts: { controllers: { devices: 1, memory: 1, cpu: 1, cpuset: 1, pids: 1 }, swapAccounting: true, lastCap: 40 },
      user: { uid: 0, gid: 0, groups: [] }, network: { mode: 'host' },
    });
    assert.match(host, /^lxc\.mount\.auto = proc:mixed$/m);
    const rl = renderCmd(normalizeCommand({ id: 'u5', rootfs: dir, entrypoint: 'true', uidMappings: maps, gidMappings: maps, network: { mode: 'none' } }), {
      facts: { controllers: { devices: 1, memory: 1, cpu: 1, cpuset: 1, pids: 1 }, swapAccounting: true, lastCap: 40 },
      user: { uid: 0, gid: 0, groups: [] }, network: { mode: 'none' }, rootless: true,
    });
    assert.match(rl, /^lxc\.idmap = u 0 200000 65536$/m);
    assert.doesNotMatch(rl, /idmap=container|lxc\.cgroup/, 'rootless: the own uid is root (no idmap), no cgroup keys');
    assert.match(host, /^lxc\.mount\.entry = \/sys sys none rbind,ro,create=dir 0 0$/m);
  });

  it('rootless: the state root, the maps (own id, then the subordinate range), what is refused', () => {
    assert.equal(rootlessRoot({ XDG_RUNTIME_DIR: '/run/user/1001' }, 1001), '/run/user/1001/execdriver');
    assert.equal(rootlessRoot({}, 1001), '/tmp/execdriver-1001');
    assert.equal(rootlessRoot({ XDG_RUNTIME_DIR: 'relative' }, 7), '/tmp/execdriver-7');
    writeFileSync(join(dir, 'subuid'), 'rl:165536:65536\n');
    writeFileSync(join(dir, 'subgid'), '1001:300000:1000\n');
    const files = { subuid: join(dir, 'subuid'), subgid: join(dir, 'subgid') };
    assert.deepEqual(rootlessMappings(files, { name: 'rl', uid: 1001, gid: 1002 }), {
      uidMappings: [{ containerID: 0, hostID: 1001, size: 1 }, { containerID: 1, hostID: 165536, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 1002, size: 1 }, { containerID: 1, hostID: 300000, size: 1000 }],
    });
    assert.throws(() => rootlessMappings(files, { name: 'other', uid: 1005, gid: 1005 }), /rootless: user other has no subordinate uid range .*usermod --add-subuids START-END other/);
    const norm = (over: object) => normalizeCommand({ id: 'r1', rootfs: dir, entrypoint: 'true', network: { mode: 'none' }, ...over });
    const refuse = (over: object, re: RegExp, asked = { userns: undefined as unknown, mappings: false }) =>
      assert.throws(() => checkRootless(norm(over), asked), re);
    checkRootless(norm({}), { userns: undefined, mappings: false });
    checkRootless(norm({ network: { mode: 'host' } }), { userns: 'remap', mappings: false });
    refuse({ network: { mode: 'bridge' } }, /^.*rootless: bridge networking needs root/);
    refuse({ resources: { memory: 1 << 26, cpuShares: 512 } }, /cgroup limits \(memory, cpuShares\) cannot be enforced/);
    refuse({ privileged: true }, /--privileged needs root/);
    refuse({}, /--userns=host needs root/, { userns: 'host', mappings: false });
    refuse({}, /other maps need root/, { userns: undefined, mappings: true });
  });
});
