import { CAPABILITIES, DEFAULT_CAPABILITIES } from '../../src/capabilities.js';
import { buildSpec } from '../../src/spec/index.js';
import { PLAN_CAPABILITIES } from '../../src/lxc/template.js';
/**
 * config.lxc rendering (pure): the seed's sections in LXC 5 key names.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { normalizeCommand, type NormalizedCommand } from '../../src/command.js';
import type { Command } from '../../src/driver.js';
import { controllerHomes } from '../../src/lxc/cgroup.js';
import {
  broadcastAddress,
  escapeMountPath,
  renderConfig,
  stopHookCommand,
  type LxcHostFacts,
  type LxcRenderContext,
} from '../../src/lxc/template.js';


/** config.lxc of a Command: its spec (buildSpec, as the driver builds it) rendered (the user and joined namespace go into the spec). */
function renderCmd(
  cmd: NormalizedCommand,
  ctx: Omit<LxcRenderContext, 'id'> & { user: { uid: number; gid: number; groups: number[] }; netnsPath?: string },
): string {
  const { user, netnsPath, ...rest } = ctx;
  const spec = buildSpec(cmd, { user, cgroupNamespace: true, ...(ctx.network ? { network: ctx.network } : {}), ...(netnsPath ? { netnsPath } : {}), host: { names: [...CAPABILITIES], lastCap: 40 } });
  return renderConfig(spec, { id: cmd.id, ...rest });
}

const V1: LxcHostFacts = { controllers: { devices: 1, memory: 1, cpu: 1, cpuset: 1, pids: 1 }, swapAccounting: true, lastCap: 40 };
const V2: LxcHostFacts = { controllers: { devices: 2, memory: 2, cpu: 2, cpuset: 2, pids: 2 }, swapAccounting: true, lastCap: 40 };

describe('lxc template', () => {
  let dir: string;
  let rootfs: string;
  let spaced: string;
  const user = { uid: 0, gid: 0, groups: [] as number[] };
  const norm = (over: Partial<Command> = {}): NormalizedCommand =>
    normalizeCommand({ id: 'c1', rootfs, entrypoint: 'sh', network: { mode: 'none' }, ...over });
  const render = (over: Partial<Command> = {}, ctx: Partial<LxcRenderContext> & { netnsPath?: string } = {}) => {
    const cmd = norm(over);
    return renderCmd(cmd, { facts: V1, user, network: { mode: cmd.network.mode }, ...ctx });
  };
  const lines = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#'));

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'execdriver-lxc-template-'));
    rootfs = join(dir, 'rootfs');
    mkdirSync(rootfs);
    spaced = join(dir, 'my data dir');
    mkdirSync(spaced);
    writeFileSync(join(dir, 'a file'), 'x');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a copy-on-write overlay of one layer: LXC\'s own overlay backend (lower, then upper)', () => {
    const l = lines(render({}, { rootfsOverlay: { lower: rootfs, upper: '/state/c1/rootfs/upper' } }));
    assert.ok(l.includes(`lxc.rootfs.path = overlay:${rootfs}:/state/c1/rootfs/upper`));
    assert.equal(l.filter((x) => x.startsWith('lxc.rootfs.path')).length, 1);
  });

  it('renders every section of the seed in LXC 5 key names', () => {
    const text = render({ hostname: 'box' });
    const l = lines(text);
    assert.ok(l.includes('lxc.uts.name = box'));
    assert.ok(l.includes(`lxc.rootfs.path = dir:${rootfs}`));
    assert.ok(l.includes('lxc.pty.max = 1024'));
    assert.ok(l.includes('lxc.console.path = none'));
    assert.ok(l.includes('lxc.tty.max = 0'));
    assert.ok(l.includes('lxc.autodev = 1'));
    assert.ok(l.includes('lxc.cgroup.devices.deny = a'));
    assert.ok(l.includes('lxc.cgroup.devices.allow = c 1:3 rwm'));
    assert.ok(l.includes('lxc.cgroup.devices.allow = c 136:* rwm'));
    assert.ok(l.includes('lxc.mount.auto = proc:mixed sys:ro'));
    assert.ok(l.some((x) => /^lxc\.mount\.entry = shm dev\/shm tmpfs size=65536k,.*create=dir 0 0$/.test(x)));
    assert.ok(l.includes('lxc.apparmor.profile = unconfined'));
    // none of the LXC 1.x names that LXC 5 refuses
    for (const old of ['lxc.network.', 'lxc.rootfs =', 'lxc.pts', 'lxc.tty =', 'lxc.console =', 'lxc.pivotdir']) {
      assert.ok(!l.some((x) => x.startsWith(old)), `no ${old}`);
    }
    assert.match(text, /# devpts: LXC mounts a new instance/);
  });

  it("tty: LXC's console (lxc.console.path left to its default), its devpts and no /dev/ttyN", () => {
    const l = lines(render({ tty: true }));
    assert.ok(!l.some((x) => x.startsWith('lxc.console.')), 'no lxc.console.* key: the default console');
    assert.ok(l.includes('lxc.pty.max = 1024'));
    assert.ok(l.includes('lxc.tty.max = 0'));
    assert.ok(l.includes('lxc.environment = TERM=xterm'));
    assert.ok(l.includes('lxc.cgroup.devices.allow = c 136:* rwm'), 'the console is a pty of the container devpts');
    assert.ok(!l.some((x) => x.includes('execdriver-init')), 'no console helper unless asked');
    const h = lines(render({ tty: true }, { consoleHelper: '/opt/my tools/execdriver-init' }));
    assert.ok(h.includes('lxc.mount.entry = /opt/my\\040tools/execdriver-init dev/.execdriver-init none bind,ro,create=file 0 0'));
  });

  it('memory, soft limit and the asked swap value; cpu, cpuset, pids (v1 keys)', () => {
    const l = lines(
      render({
        resources: {
          memory: 64 << 20,
          memorySwap: 96 << 20,
          memoryReservation: 32 << 20,
          cpuShares: 512,
          cpuQuota: 50000,
          cpuPeriod: 100000,
          cpusetCpus: '0',
          pidsLimit: 20,
        },
      }),
    );
    assert.ok(l.includes(`lxc.cgroup.memory.limit_in_bytes = ${64 << 20}`));
    assert.ok(l.includes(`lxc.cgroup.memory.memsw.limit_in_bytes = ${96 << 20}`), 'swap is the asked value, not 2x memory');
    assert.ok(l.includes(`lxc.cgroup.memory.soft_limit_in_bytes = ${32 << 20}`));
    assert.ok(l.indexOf(`lxc.cgroup.memory.limit_in_bytes = ${64 << 20}`) < l.indexOf(`lxc.cgroup.memory.memsw.limit_in_bytes = ${96 << 20}`));
    assert.ok(l.includes('lxc.cgroup.cpu.shares = 512'));
    assert.ok(l.includes('lxc.cgroup.cpu.cfs_quota_us = 50000'));
    assert.ok(l.includes('lxc.cgroup.cpu.cfs_period_us = 100000'));
    assert.ok(l.includes('lxc.cgroup.cpuset.cpus = 0'));
    assert.ok(l.includes('lxc.cgroup.pids.max = 20'));
    assert.ok(!l.some((x) => x.startsWith('lxc.cgroup2.')));
  });

  it('v2 keys on a cgroup2 host (memory.max, swap.max = swap - memory, cpu.weight, cpu.max, devices)', () => {
    const cmd = norm({ resources: { memory: 64 << 20, memorySwap: 96 << 20, cpuShares: 1024, cpuQuota: 50000, pidsLimit: 7 } });
    const l = lines(renderCmd(cmd, { facts: V2, user, network: { mode: 'none' } }));
    assert.ok(l.includes(`lxc.cgroup2.memory.max = ${64 << 20}`));
    assert.ok(l.includes(`lxc.cgroup2.memory.swap.max = ${32 << 20}`));
    assert.ok(l.some((x) => /^lxc\.cgroup2\.cpu\.weight = \d+$/.test(x)));
    assert.ok(l.includes('lxc.cgroup2.cpu.max = 50000 100000'));
    assert.ok(l.includes('lxc.cgroup2.pids.max = 7'));
    assert.ok(l.includes('lxc.cgroup2.devices.deny = a'));
    assert.ok(!l.some((x) => x.startsWith('lxc.cgroup.')));
  });

  it('hybrid: each controller where it lives (memory v1, pids v2)', () => {
    const cmd = norm({ resources: { memory: 64 << 20, pidsLimit: 9 } });
    const facts: LxcHostFacts = { controllers: { devices: 1, memory: 1, pids: 2 }, swapAccounting: false, lastCap: 40 };
    const l = lines(renderCmd(cmd, { facts, user, network: { mode: 'none' } }));
    assert.ok(l.includes(`lxc.cgroup.memory.limit_in_bytes = ${64 << 20}`));
    assert.ok(l.includes('lxc.cgroup2.pids.max = 9'));
  });

  it('refuses limits the host cannot enforce, and a swap limit without swap accounting', () => {
    const noPids: LxcHostFacts = { controllers: { memory: 1 }, swapAccounting: true, lastCap: 40 };
    assert.throws(
      () => renderCmd(norm({ resources: { pidsLimit: 5 } }), { facts: noPids, user, network: { mode: 'none' } }),
      (e: Error & { code: string }) => e.code === 'ERR_CGROUP' && /pids/.test(e.message),
    );
    const noSwap: LxcHostFacts = { ...V1, swapAccounting: false };
    assert.throws(
      () => renderCmd(norm({ resources: { memory: 64 << 20, memorySwap: 128 << 20 } }), { facts: noSwap, user, network: { mode: 'none' } }),
      (e: Error & { code: string }) => e.code === 'ERR_CGROUP' && /swap accounting/.test(e.message),
    );
    // unlimited swap on such a host is simply not written
    const l = lines(renderCmd(norm({ resources: { memory: 64 << 20, memorySwap: -1 } }), { facts: noSwap, user, network: { mode: 'none' } }));
    assert.ok(!l.some((x) => x.includes('memsw')));
  });

  it('privileged: every device, rw proc/sys, no capability dropped, no masks', () => {
    const l = lines(render({ privileged: true }));
    assert.ok(l.includes('lxc.cgroup.devices.allow = a'));
    assert.ok(!l.includes('lxc.cgroup.devices.deny = a'));
    assert.ok(l.includes('lxc.mount.auto = proc:rw sys:rw'));
    assert.ok(!l.some((x) => x.startsWith('lxc.cap.')));
    assert.ok(!l.some((x) => x.includes('proc/kcore')));
  });

  it('capabilities: the default allow-list as lxc.cap.keep, cap-add and cap-drop, drop ALL → none', () => {
    const keep = (l: string[]) => l.filter((x) => x.startsWith('lxc.cap.'));
    const names = (l: string[]) => keep(l)[0]!.slice('lxc.cap.keep = '.length).split(' ').sort();
    assert.deepEqual(names(lines(render({}))), DEFAULT_CAPABILITIES.map((c) => c.toLowerCase()).sort());
    const l = names(lines(render({ capAdd: ['NET_ADMIN'], capDrop: ['CHOWN'] })));
    assert.ok(l.includes('net_admin') && !l.includes('chown') && !l.includes('sys_admin') && l.includes('mknod'));
    assert.deepEqual(keep(lines(render({ capDrop: ['ALL'] }))), ['lxc.cap.keep = none']);
    assert.deepEqual(keep(lines(render({ capDrop: ['ALL'], capAdd: ['KILL', 'CHOWN'] }))), ['lxc.cap.keep = chown kill']);
    assert.throws(() => render({ capAmbient: ['CHOWN'] }), /ambient/);
  });

  it('a process plan: our helper sets user, capabilities and seccomp; LXC keeps what it needs for that', () => {
    const l = lines(render({ user: '1000:1000', capAmbient: ['CHOWN'] }, { processPlan: '/state/process.plan', consoleHelper: '/x/execdriver-init' }));
    const keep = l.find((x) => x.startsWith('lxc.cap.keep = '))!.slice('lxc.cap.keep = '.length).split(' ');
    for (const c of [...DEFAULT_CAPABILITIES, ...PLAN_CAPABILITIES]) assert.ok(keep.includes(c.toLowerCase()), c);
    assert.ok(!keep.includes('dac_read_search') && !keep.includes('sys_ptrace'));
    assert.ok(!l.some((x) => /^lxc\.(init\.uid|init\.gid|init\.groups|seccomp\.profile|no_new_privs)\b/.test(x)));
    assert.ok(l.includes('lxc.mount.entry = /state/process.plan dev/.execdriver-plan none bind,ro,create=file 0 0'));
    // without a plan LXC does it all, and ambient capabilities cannot be had
    const plain = lines(render({ user: '1000:1000' }));
    assert.ok(plain.some((x) => x.startsWith('lxc.init.uid = ')) && !plain.some((x) => x.includes('.execdriver-plan')));
    assert.ok(!plain.find((x) => x.startsWith('lxc.cap.keep = '))!.includes('sys_admin'));
  });

  it('bind mounts: bind,rw / bind,ro onto the resolved targets, nothing for LXC to create, spaces as \\040', () => {
    const mounts = [
      { source: spaced, destination: '/data/in here' },
      { source: join(dir, 'a file'), destination: '/link/x', writable: false },
    ];
    const l = lines(render({ mounts }, { mountTargets: ['/data/in here', '/etc/x'] }));
    const esc = spaced.replace(/ /g, '\\040');
    assert.ok(l.includes(`lxc.mount.entry = ${esc} data/in\\040here none bind,rw 0 0`), l.join('\n'));
    assert.ok(l.includes(`lxc.mount.entry = ${dir}/a\\040file etc/x none bind,ro 0 0`));
    assert.ok(!l.some((x) => x.includes(`${dir}/`) && x.includes('create=')));
    assert.equal(escapeMountPath('a b\tc\\d'), 'a\\040b\\011c\\134d');
  });

  it('network: veth on the bridge named eth0 with MTU, address and gateway', () => {
    const cmd = norm({ network: { mode: 'bridge', bridge: 'br-test' } });
    const l = lines(
      renderCmd(cmd, {
        facts: V1,
        user,
        network: { mode: 'bridge', bridge: 'br-test', ipAddress: '10.99.0.7', prefixLen: 24, gateway: '10.99.0.1', mtu: 1400, hostInterface: 'vethabcd1234' },
      }),
    );
    const net = l.filter((x) => x.startsWith('lxc.net.'));
    assert.deepEqual(net, [
      'lxc.net.0.type = veth',
      'lxc.net.0.link = br-test',
      'lxc.net.0.name = eth0',
      'lxc.net.0.flags = up',
      'lxc.net.0.mtu = 1400',
      'lxc.net.0.veth.pair = vethabcd1234',
      'lxc.net.0.ipv4.address = 10.99.0.7/24 10.99.0.255',
      'lxc.net.0.ipv4.gateway = 10.99.0.1',
    ]);
    assert.equal(broadcastAddress('10.88.3.4', 16), '10.88.255.255');
  });

  it('network: none = empty + up; host = type none (no key would be a new namespace)', () => {
    assert.deepEqual(lines(render()).filter((x) => x.startsWith('lxc.net.')), ['lxc.net.0.type = empty', 'lxc.net.0.flags = up']);
    assert.deepEqual(lines(render({ network: { mode: 'host' } })).filter((x) => x.startsWith('lxc.net')), ['lxc.net.0.type = none']);
    const shared = lines(render({ network: { mode: 'container:other' } }, { netnsPath: '/proc/42/ns/net' }));
    assert.ok(shared.includes('lxc.namespace.share.net = /proc/42/ns/net'));
  });

  it('the process: uid, gid, groups, cwd, environment; read-only root', () => {
    const cmd = norm({ env: ['FOO=bar baz'], workingDir: '/tmp', readonlyRootfs: true });
    const l = lines(renderCmd(cmd, { facts: V1, user: { uid: 1000, gid: 1000, groups: [2000, 3000] }, network: { mode: 'none' } }));
    assert.ok(l.includes('lxc.init.uid = 1000'));
    assert.ok(l.includes('lxc.init.gid = 1000'));
    assert.ok(l.includes('lxc.init.groups = 2000,3000'));
    assert.ok(l.includes('lxc.init.cwd = /tmp'));
    assert.ok(l.includes('lxc.environment = FOO=bar baz'));
    assert.ok(l.some((x) => x.startsWith('lxc.environment = PATH=')));
    assert.ok(l.includes('lxc.rootfs.options = ro'));
  });

  it('raw lxc.* lines come last, exactly; bad ones are refused', () => {
    const text = render({ config: { lxc: ['lxc.environment = RAW=1', '  lxc.cgroup.memory.swappiness = 0'] } });
    const l = lines(text);
    assert.deepEqual(l.slice(-2), ['lxc.environment = RAW=1', 'lxc.cgroup.memory.swappiness = 0']);
    for (const bad of ['notlxc = 1', 'lxc.environment = A=1\nlxc.rootfs.path = /', 'lxc.uts.name']) {
      assert.throws(
        () => render({ config: { lxc: [bad] } }),
        (e: Error & { code: string }) => e.code === 'ERR_INVALID_CONFIG',
      );
    }
  });

  it('values with a line break are refused (they would inject config lines)', () => {
    assert.throws(
      () => render({ env: ['A=1\nlxc.cgroup.devices.allow = a'] }),
      (e: Error & { code: string }) => e.code === 'ERR_INVALID_CONFIG',
    );
  });

  it('the stop hook copies the OOM counter (arguments LXC appends are ignored)', () => {
    const hook = stopHookCommand("/sys/fs/cgroup/memory/lxc.payload.c'1/memory.oom_control", '/run/x/oom');
    const l = lines(render({}, { stopHook: hook }));
    assert.ok(l.includes(`lxc.hook.stop = ${hook}`));
    assert.equal(
      hook,
      `/bin/sh -c '/bin/cat "$0" > "$1" 2>/dev/null; exit 0' '/sys/fs/cgroup/memory/lxc.payload.c'\\''1/memory.oom_control' '/run/x/oom'`,
    );
    assert.ok(!lines(render()).some((x) => x.startsWith('lxc.hook')), 'no hook unless asked');
  });

  it("masked and read-only kernel paths, /dev nosuid,noexec; our cgroup names; none of the paths when privileged", () => {
    const text = render({}, { facts: { ...V1, rootfsMount: '/usr/lib/lxc/rootfs' }, cgroupDirs: { container: 'lxc.payload.c1@0123abcd', monitor: 'lxc.monitor.c1@0123abcd' } });
    const l = lines(text);
    assert.ok(l.includes('lxc.rootfs.mount = /usr/lib/lxc/rootfs'));
    assert.ok(l.includes('lxc.mount.entry = none dev tmpfs nosuid,noexec,mode=755,size=65536k 0 0'));
    // our /dev comes before anything mounted under it
    assert.ok(l.findIndex((x) => x.includes(' dev tmpfs ')) < l.findIndex((x) => x.includes(' dev/shm ')));
    assert.ok(l.includes('lxc.mount.entry = /usr/lib/lxc/rootfs/proc/sysrq-trigger proc/sysrq-trigger none bind,ro,optional 0 0'));
    assert.ok(l.includes('lxc.mount.entry = /usr/lib/lxc/rootfs/proc/fs proc/fs none bind,ro,optional 0 0'));
    assert.ok(l.includes('lxc.mount.entry = tmpfs sys/firmware tmpfs ro,nosuid,nodev,noexec,optional 0 0'));
    assert.ok(l.includes('lxc.mount.entry = /dev/null proc/timer_stats none bind,ro,optional 0 0'));
    assert.equal(l.filter((x) => / (proc|sys)\//.test(x) && x.startsWith('lxc.mount.entry')).length, 15);
    assert.ok(l.includes('lxc.cgroup.dir.container = lxc.payload.c1@0123abcd'));
    assert.ok(l.includes('lxc.cgroup.dir.monitor = lxc.monitor.c1@0123abcd'));
    const priv = lines(render({ privileged: true }, { facts: { ...V1, rootfsMount: '/usr/lib/lxc/rootfs' } }));
    assert.equal(priv.filter((x) => / (proc|sys)\//.test(x) && x.startsWith('lxc.mount.entry')).length, 0);
    assert.ok(priv.includes('lxc.mount.entry = none dev tmpfs nosuid,noexec,mode=755,size=65536k 0 0'));
  });

  it('device rules go to cgroup2 keys on a v2 host (LXC loads a BPF program), to v1 where a devices hierarchy is', () => {
    const v2 = { mode: 'v2' as const, v1: new Map(), v2: { mountpoint: '/sys/fs/cgroup', controllers: ['cpu', 'memory', 'pids'] } };
    assert.deepEqual(controllerHomes(v2), { devices: 2, memory: 2, cpu: 2, pids: 2 });
    const hybrid = { mode: 'hybrid' as const, v1: new Map([['devices', { mountpoint: '/sys/fs/cgroup/devices', controllers: ['devices'] }]]), v2: v2.v2 };
    assert.equal(controllerHomes(hybrid).devices, 1);
    const l = lines(render({}, { facts: { ...V2, controllers: controllerHomes(v2) } }));
    assert.ok(l.includes('lxc.cgroup2.devices.deny = a'));
    assert.ok(l.includes('lxc.cgroup2.devices.allow = c 1:3 rwm'));
  });
});
