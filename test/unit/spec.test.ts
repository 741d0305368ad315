/**
 * The OCI spec as the one model (src/spec/): Command → spec (the policy), validateSpec (the one
 * check, also of a bundle's config.json), and the conversions the backends use.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CAPABILITIES, DEFAULT_CAPABILITIES } from '../../src/capabilities.js';
import { DEFAULT_DEVICE_RULES } from '../../src/cgroups/resources.js';
import { normalizeCommand } from '../../src/command.js';
import type { Command } from '../../src/driver.js';
import { MASKED_PATHS, READONLY_PATHS } from '../../src/restrictions.js';
import { DEFAULT_PROFILE } from '../../src/security/seccomp/default-profile.js';
import { ociSeccomp, resolveSeccomp } from '../../src/security/seccomp/profile.js';
import {
  ANNOTATION,
  buildSpec,
  deviceModeOf,
  deviceRules,
  deviceRuleText,
  linuxResources,
  ociState,
  readBundle,
  OCI_VERSION,
  resourcesOf,
  specNetwork,
  validateSpec,
  type Spec,
} from '../../src/spec/index.js';

const rootfs = mkdtempSync(join(tmpdir(), 'execdriver-unit-spec-'));
after(() => rmSync(rootfs, { recursive: true, force: true }));
const all = { names: [...CAPABILITIES], lastCap: 40 };
const X64 = { arch: 'x64', kernel: '6.18.0-1-amd64' };
const root = { uid: 0, gid: 0, groups: [] as number[] };
const specOf = (over: Partial<Command> = {}, user = root): Spec =>
  buildSpec(normalizeCommand({ id: 'sp1', rootfs, entrypoint: 'sh', arguments: ['-c', 'true'], network: { mode: 'none' }, ...over }), {
    user,
    cgroupNamespace: true,
    cgroupsPath: 'execdriver/sp1',
    host: all,
    platform: X64,
  });
/** a deep copy through JSON, as a bundle's config.json arrives */
const json = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe('spec: Command → spec (the policy in one place)', () => {
  it('the default container: namespaces, capabilities, masks, devices, mounts, seccomp, in the specification\'s names', () => {
    const s = specOf({ hostname: 'box', env: ['A=1'] });
    assert.equal(s.ociVersion, OCI_VERSION);
    assert.deepEqual(s.process?.args, ['sh', '-c', 'true']);
    assert.equal(s.process?.cwd, '/');
    assert.deepEqual(s.process?.user, { uid: 0, gid: 0, umask: 0o022 });
    assert.ok(s.process?.env?.includes('A=1') && s.process.env.some((e) => e.startsWith('PATH=')));
    assert.equal(s.hostname, 'box');
    assert.deepEqual(s.root, { path: rootfs, readonly: false });
    assert.deepEqual(s.linux?.namespaces, [{ type: 'mount' }, { type: 'uts' }, { type: 'ipc' }, { type: 'pid' }, { type: 'network' }, { type: 'cgroup' }]);
    const want = CAPABILITIES.filter((c) => DEFAULT_CAPABILITIES.includes(c)).map((c) => `CAP_${c}`);
    assert.deepEqual(s.process?.capabilities, { bounding: want, effective: want, inheritable: [], permitted: want, ambient: [] });
    assert.deepEqual(s.linux?.maskedPaths, [...MASKED_PATHS]);
    assert.deepEqual(s.linux?.readonlyPaths, [...READONLY_PATHS]);
    assert.deepEqual(s.linux?.devices?.map((d) => d.path), ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty']);
    assert.deepEqual(s.linux?.resources?.devices?.map(deviceRuleText), ['a *:* rwm', ...DEFAULT_DEVICE_RULES]);
    assert.equal(s.linux?.resources?.devices?.[0]?.allow, false);
    assert.deepEqual(s.mounts?.map((m) => m.destination), ['/dev', '/proc', '/sys', '/dev/shm', '/dev/pts', '/dev/mqueue']);
    assert.ok(s.mounts?.find((m) => m.destination === '/sys')?.options?.includes('ro'));
    assert.equal(s.linux?.cgroupsPath, 'execdriver/sp1');
    assert.equal(s.linux?.rootfsPropagation, 'rprivate');
    assert.equal(s.linux?.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(s.annotations?.[ANNOTATION.seccomp], 'default');
    assert.deepEqual(specNetwork(s), { mode: 'none' });
    assert.doesNotThrow(() => validateSpec(json(s)));
  });

  it('privileged: every capability, every device, no masks, rw sys, no seccomp', () => {
    const s = specOf({ privileged: true });
    assert.equal(s.process?.capabilities?.bounding?.length, CAPABILITIES.length);
    assert.equal(deviceModeOf(s.linux?.resources?.devices), 'allow-all');
    assert.deepEqual([s.linux?.maskedPaths, s.linux?.readonlyPaths], [[], []]);
    assert.ok(!s.mounts?.find((m) => m.destination === '/sys')?.options?.includes('ro'));
    assert.equal(s.linux?.seccomp, undefined);
    assert.equal(s.annotations?.[ANNOTATION.seccomp], 'unconfined');
  });

  it('a non-root user: only the bounding set, ambient ones permitted and inheritable too; groups', () => {
    const s = specOf({ user: '1000', capAdd: ['NET_ADMIN'], capAmbient: ['NET_ADMIN'] }, { uid: 1000, gid: 100, groups: [5, 6] });
    assert.deepEqual(s.process?.user, { uid: 1000, gid: 100, umask: 0o022, additionalGids: [5, 6] });
    const c = s.process!.capabilities!;
    assert.ok(c.bounding?.includes('CAP_NET_ADMIN') && c.bounding.includes('CAP_CHOWN'));
    for (const set of [c.effective, c.permitted, c.inheritable, c.ambient]) assert.deepEqual(set, ['CAP_NET_ADMIN']);
    assert.equal(s.annotations?.[ANNOTATION.user], '1000');
  });

  it('volumes and /etc files as binds; idmapped ones carry the maps; --net host in a user namespace binds /sys', () => {
    const vol = mkdtempSync(join(tmpdir(), 'execdriver-unit-spec-vol-'));
    try {
      const maps = [{ containerID: 0, hostID: 200000, size: 65536 }];
      const s = specOf({
        uidMappings: maps, gidMappings: maps, network: { mode: 'host' },
        mounts: [{ source: vol, destination: '/rw' }, { source: vol, destination: '/ro', writable: false, private: false, idmap: true }],
      });
      const byDst = (d: string) => s.mounts!.find((m) => m.destination === d)!;
      assert.deepEqual(byDst('/rw'), { destination: '/rw', type: 'bind', source: vol, options: ['rbind', 'rw', 'private'] });
      assert.deepEqual(byDst('/ro'), { destination: '/ro', type: 'bind', source: vol, options: ['rbind', 'ro'], uidMappings: maps, gidMappings: maps });
      assert.deepEqual(byDst('/sys'), { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] });
      assert.deepEqual(s.linux?.uidMappings, maps);
      assert.ok(s.linux?.namespaces?.some((n) => n.type === 'user'));
      assert.ok(!s.linux?.namespaces?.some((n) => n.type === 'network'), 'host network: no network namespace');
      assert.doesNotThrow(() => validateSpec(json(s)));
    } finally {
      rmSync(vol, { recursive: true, force: true });
    }
  });

  it('container:<id> joins the namespace by path; bridge: the prepared network in an annotation', () => {
    const cmd = normalizeCommand({ id: 'sp2', rootfs, entrypoint: 'true', network: { mode: 'container:other' } });
    assert.throws(() => buildSpec(cmd, { user: root, cgroupNamespace: false, host: all }), /no network namespace to join/);
    const s = buildSpec(cmd, { user: root, cgroupNamespace: false, host: all, netnsPath: '/proc/42/ns/net' });
    assert.deepEqual(s.linux?.namespaces?.at(-1), { type: 'network', path: '/proc/42/ns/net' });
    const b = buildSpec(normalizeCommand({ id: 'sp3', rootfs, entrypoint: 'true', network: { mode: 'bridge', mtu: 1400 } }), {
      user: root, cgroupNamespace: false, host: all,
      network: { mode: 'bridge', bridge: 'br0', ipAddress: '10.88.0.5', prefixLen: 16, gateway: '10.88.0.1', mtu: 1400 },
    });
    assert.deepEqual(specNetwork(b), { mode: 'bridge', mtu: 1400, bridge: 'br0', address: '10.88.0.5', prefixLen: 16, gateway: '10.88.0.1', vethMtu: 1400 });
  });

  it('limits: Command resources ↔ linux.resources, both ways', () => {
    const r = { memory: 64 << 20, memorySwap: -1, memoryReservation: 32 << 20, cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000, cpusetCpus: '0-1', cpusetMems: '0', pidsLimit: 20 };
    const l = linuxResources(r);
    assert.deepEqual(l, {
      memory: { limit: 64 << 20, reservation: 32 << 20, swap: -1 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0-1', mems: '0' },
      pids: { limit: 20 },
    });
    assert.deepEqual(resourcesOf(l), r);
    assert.deepEqual(linuxResources({}), {});
    assert.equal(deviceModeOf(deviceRules('default')), 'default');
    assert.equal(deviceModeOf([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]), undefined);
  });

  it("seccomp: Docker's profile decided into the OCI form resolves to the same rules", () => {
    for (const caps of [[...DEFAULT_CAPABILITIES], [...DEFAULT_CAPABILITIES, 'SYS_ADMIN', 'SYS_PTRACE', 'BPF'], []]) {
      for (const platform of [X64, { arch: 'arm64', kernel: '5.4.0' }]) {
        const oci = ociSeccomp(DEFAULT_PROFILE, caps, platform);
        assert.ok(oci.syscalls?.every((s) => !s.includes && !s.excludes && s.names?.length));
        assert.equal(oci.archMap, undefined);
        const a = resolveSeccomp(DEFAULT_PROFILE, caps, platform);
        const b = resolveSeccomp(oci, caps, platform);
        assert.deepEqual({ ...b, name: a.name }, a);
        assert.equal(ociSeccomp(DEFAULT_PROFILE, [...caps], platform), oci, 'the same inputs give the same object (the filter cache)');
      }
    }
  });

  it('the state: the specification\'s fields', () => {
    assert.deepEqual(ociState('c1', 'running', '/run/x/native/c1', 42), { ociVersion: OCI_VERSION, id: 'c1', status: 'running', pid: 42, bundle: '/run/x/native/c1' });
    assert.deepEqual(ociState('c1', 'stopped', '/b', 42, { a: 'b' }), { ociVersion: OCI_VERSION, id: 'c1', status: 'stopped', bundle: '/b', annotations: { a: 'b' } });
  });
});

describe('validateSpec: one check, naming the field', () => {
  const good = () => json(specOf({ resources: { memory: 64 << 20, memorySwap: 128 << 20, cpuShares: 512, pidsLimit: 10 } }));
  const cases: [string, (s: Spec & Record<string, unknown>) => void, RegExp][] = [
    ['version', (s) => (s.ociVersion = '2.0.0'), /^ociVersion must be a 1\.x version/],
    ['no root', (s) => delete (s as Partial<Spec>).root, /^root must be an object, not absent/],
    ['memory limit', (s) => (s.linux!.resources!.memory!.limit = 1024), /^linux\.resources\.memory\.limit must be an integer from 6291456 .* \(at least 6 MiB\), not 1024/],
    ['swap below limit', (s) => (s.linux!.resources!.memory!.swap = 1 << 20), /^linux\.resources\.memory\.swap must be -1 \(unlimited\) or at least linux\.resources\.memory\.limit/],
    ['cpu shares', (s) => (s.linux!.resources!.cpu!.shares = 1), /^linux\.resources\.cpu\.shares must be an integer from 2 to 262144/],
    ['cpuset', (s) => (s.linux!.resources!.cpu = { cpus: '3-1' }), /^linux\.resources\.cpu\.cpus must be a list such as 0-1,3/],
    ['pids 0', (s) => (s.linux!.resources!.pids = { limit: 0 }), /^linux\.resources\.pids\.limit must be positive or -1/],
    ['blockIO', (s) => (s.linux!.resources!.blockIO = { weight: 10 }), /^linux\.resources\.blockIO is not supported by execdriver yet/],
    ['device rules', (s) => (s.linux!.resources!.devices = [{ allow: true, type: 'x', major: 1, minor: 3, access: 'rw' }]), /^linux\.resources\.devices\[0\]\.type must be a, b or c/],
    ['args', (s) => (s.process!.args = []), /^process\.args must name a command to run/],
    ['env', (s) => (s.process!.env = ['NOPE']), /^process\.env\[0\] must be KEY=VALUE, not "NOPE"/],
    ['cwd', (s) => (s.process!.cwd = 'tmp'), /^process\.cwd must be an absolute path/],
    ['uid', (s) => (s.process!.user.uid = -1), /^process\.user\.uid must be an integer from 0 to/],
    ['capability', (s) => (s.process!.capabilities!.bounding = ['CAP_NOPE']), /^process\.capabilities\.bounding\[0\] "CAP_NOPE" is not a known capability/],
    ['ambient not permitted', (s) => (s.process!.capabilities!.ambient = ['CAP_CHOWN']), /^process\.capabilities\.ambient\[0\] CAP_CHOWN must be in the bounding, permitted and inheritable sets too/],
    ['rlimits', (s) => (s.process!.rlimits = [{ type: 'RLIMIT_NOPE', hard: 1024, soft: 1024 }]), /^process\.rlimits\[0\]\.type "RLIMIT_NOPE" is not a known limit/],
    ['rlimits soft > hard', (s) => (s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 10, soft: 20 }]), /^process\.rlimits\[0\]\.soft must not exceed/],
    ['namespace type', (s) => s.linux!.namespaces!.push({ type: 'bogus' as 'pid' }), /^linux\.namespaces\[6\]\.type "bogus" is not a namespace type/],
    ['namespace twice', (s) => s.linux!.namespaces!.push({ type: 'pid' }), /^linux\.namespaces\[6\]\.type pid is given twice/],
    ['join pid', (s) => (s.linux!.namespaces![3] = { type: 'pid', path: '/proc/1/ns/pid' }), /^linux\.namespaces\[3\]\.path joining an existing pid namespace is not supported yet/],
    ['no mount ns', (s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount')), /^linux\.namespaces must include a mount namespace/],
    ['maps without userns', (s) => (s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]), /^linux\.uidMappings needs a user namespace/],
    ['mount destination', (s) => s.mounts!.push({ destination: 'data', type: 'bind', source: '/tmp', options: ['rbind'] }), /^mounts\[6\]\.destination must be an absolute path/],
    ['bind without source', (s) => s.mounts!.push({ destination: '/data', type: 'bind' }), /^mounts\[6\]\.source must be given for a bind mount/],
    ['hostname', (s) => (s.hostname = 'web_1'), /^hostname .*not a valid host name/],
    ['hooks', (s) => (s.hooks = { onExit: [{ path: '/bin/true' }] } as Spec['hooks']), /^hooks\.onExit is not a hook of the runtime specification/],
    ['hook path', (s) => (s.hooks = { poststop: [{ path: 'true' }] }), /^hooks\.poststop\[0\]\.path must be an absolute path/],
    ['seccomp', (s) => (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_NOPE' as 'SCMP_ACT_LOG' }), /^linux\.seccomp: defaultAction "SCMP_ACT_NOPE" is not a known action/],
    ['propagation', (s) => (s.linux!.rootfsPropagation = 'sideways'), /^linux\.rootfsPropagation must be one of private/],
    ['raw lxc lines', (s) => (s.annotations![ANNOTATION.lxc] = JSON.stringify(['lxc.a = 1\nlxc.b = 2'])), /^annotations\["org\.execdriver\.lxc"\] must be a JSON list of one-line/],
    ['sysctl', (s) => (s.linux!.sysctl = { 'kernel.foo': '1' }), /^linux\.sysctl\["kernel\.foo"\] is not namespaced/],
  ];
  for (const [name, change, re] of cases) {
    it(`${name}: ${re.source.slice(1, 60)}…`, () => {
      const s = good() as Spec & Record<string, unknown>;
      assert.doesNotThrow(() => validateSpec(json(s)));
      change(s);
      assert.throws(
        () => validateSpec(s, 'sp1'),
        (e: Error & { code: string; containerId?: string }) => {
          assert.equal(e.code, 'ERR_INVALID_CONFIG');
          assert.match(e.message.replace(/^container sp1: /, ''), re);
          assert.equal(e.containerId, 'sp1');
          return true;
        },
      );
    });
  }
});

describe('a bundle: config.json read and checked like a built spec', () => {
  it('root.path relative to the bundle; a bad field or a missing root refused, naming it', () => {
    const bundle = mkdtempSync(join(tmpdir(), 'execdriver-unit-bundle-'));
    try {
      mkdirSync(join(bundle, 'rootfs'));
      const s = json(specOf());
      s.root = { path: 'rootfs', readonly: true };
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(s));
      const got = readBundle(bundle);
      assert.deepEqual(got.root, { path: join(bundle, 'rootfs'), readonly: true });
      assert.deepEqual(got.process, s.process);
      s.linux!.resources = { memory: { limit: 1 } };
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(s));
      assert.throws(() => readBundle(bundle), /linux\.resources\.memory\.limit must be/);
      writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ...json(specOf()), root: { path: 'nope' } }));
      assert.throws(() => readBundle(bundle), /root\.path .*nope does not exist/);
      writeFileSync(join(bundle, 'config.json'), '{');
      assert.throws(() => readBundle(bundle), /config\.json is not JSON/);
    } finally {
      rmSync(bundle, { recursive: true, force: true });
    }
  });
});
