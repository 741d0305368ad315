/**
 * Real kernel, as root: bridges, veth pairs and namespaces made here, traffic only between them.
 * Every test makes its own bridge (`edt<pid><letter>`) on a subnet that overlaps nothing on the host,
 * and checks afterwards that no veth, bridge or state directory is left.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ExecDriverError, InvalidConfigError } from '../../src/errors.js';
import {
  allocate,
  allocations,
  attachVeth,
  chooseSubnet,
  detachVeth,
  ensureBridge,
  formatIPv4,
  hostUsedCidrs,
  inspectBridge,
  parseCidr,
  release,
  removeBridgeIfUnused,
  NetworkCommandError,
  type BridgeInfo,
} from '../../src/network/index.js';

const exec = promisify(execFile);
const skip = process.getuid?.() !== 0 ? 'needs root' : !existsSync('/usr/bin/nsenter') && !existsSync('/bin/nsenter') ? 'needs nsenter' : false;
const indexUrl = new URL('../../src/network/index.js', import.meta.url).href;
const PREFIX = 'edtv'; // host ends made here: edtv + 8 hex
const ping = existsSync('/usr/bin/ping') || existsSync('/bin/ping') ? ['ping'] : ['busybox', 'ping'];

let letter = 0;
let bridgeName = '';
let stateRoot = '';
let namespaces: ChildProcess[] = [];
let madeBridges: string[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function testVeths(): Promise<string[]> {
  const { stdout } = await exec('ip', ['-o', 'link', 'show', 'type', 'veth']);
  return stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined && n.startsWith(PREFIX));
}

/** `unshare -n sleep 60`, once it really is in a namespace of its own. */
async function netns(): Promise<number> {
  const child = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
  namespaces.push(child);
  const pid = child.pid;
  assert.ok(pid, 'unshare started');
  const own = await readlink('/proc/self/ns/net');
  for (let i = 0; i < 500; i++) {
    const theirs = await readlink(`/proc/${pid}/ns/net`).catch(() => own);
    if (theirs !== own) return pid;
    await sleep(10);
  }
  throw new Error(`process ${pid} never got a network namespace of its own`);
}

async function inNs(pid: number, args: string[]): Promise<string> {
  const { stdout } = await exec('nsenter', [`--net=/proc/${pid}/ns/net`, ...args]);
  return stdout;
}

/** One ping, retried a little (the first may wait on ARP). No timing is asserted. */
async function pingOk(args: string[]): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 3; i++) {
    try {
      await exec(args[0]!, args.slice(1));
      return;
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

async function testSubnet(prefixLen = 24): Promise<string> {
  return chooseSubnet(await hostUsedCidrs(), { prefixLen });
}

async function makeBridge(options: { subnet?: string; mtu?: number } = {}): Promise<BridgeInfo> {
  const info = await ensureBridge({ name: bridgeName, subnet: options.subnet ?? (await testSubnet()), ...(options.mtu ? { mtu: options.mtu } : {}) });
  madeBridges.push(bridgeName);
  return info;
}

describe('network on the real kernel', { skip }, () => {
  beforeEach(async () => {
    bridgeName = `edt${process.pid}${String.fromCharCode(97 + (letter++ % 26))}`;
    stateRoot = await mkdtemp(join(tmpdir(), 'edt-net-'));
    namespaces = [];
    madeBridges = [];
  });

  afterEach(async () => {
    for (const child of namespaces) {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await gone;
      }
    }
    for (const v of await testVeths()) await detachVeth(v);
    for (const b of madeBridges) {
      if (existsSync(`/sys/class/net/${b}`)) await exec('ip', ['link', 'del', 'dev', b]);
    }
    await rm(stateRoot, { recursive: true, force: true });
    // nothing left
    assert.deepEqual(await testVeths(), [], 'no veth left');
    assert.ok(!existsSync(`/sys/class/net/${bridgeName}`), 'test bridge deleted');
    assert.ok(!existsSync(stateRoot), 'state dir removed');
  });

  it('creates a bridge, reuses it, and refuses a disagreeing subnet', async () => {
    const subnet = await testSubnet();
    const net = parseCidr(subnet);
    const info = await makeBridge({ subnet, mtu: 1450 });
    assert.deepEqual(info, { name: bridgeName, subnet, prefixLen: 24, gateway: formatIPv4(net.network + 1), mtu: 1450 });
    const { stdout } = await exec('ip', ['-j', '-d', 'addr', 'show', 'dev', bridgeName]);
    const link = JSON.parse(stdout)[0];
    assert.equal(link.linkinfo.info_kind, 'bridge');
    assert.ok(link.flags.includes('UP'));
    assert.equal(link.mtu, 1450);
    assert.deepEqual(
      link.addr_info.filter((a: { family: string }) => a.family === 'inet').map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`),
      [`${info.gateway}/24`],
    );
    // reused: with the same subnet, without one, and with another MTU (the bridge keeps its own)
    assert.deepEqual(await ensureBridge({ name: bridgeName, subnet }), info);
    assert.deepEqual(await ensureBridge({ name: bridgeName }), info);
    assert.deepEqual(await ensureBridge({ name: bridgeName, mtu: 9000 }), info);
    assert.deepEqual(await inspectBridge(bridgeName), info);
    const other = formatIPv4(net.network ^ 0x100) + '/24';
    await assert.rejects(
      ensureBridge({ name: bridgeName, subnet: other }),
      (e: unknown) => e instanceof InvalidConfigError && e.message.includes(`already exists with subnet ${subnet}`),
    );
    // a bridge brought down by someone is brought up again
    await exec('ip', ['link', 'set', 'dev', bridgeName, 'down']);
    await ensureBridge({ name: bridgeName });
    assert.ok(JSON.parse((await exec('ip', ['-j', 'link', 'show', 'dev', bridgeName])).stdout)[0].flags.includes('UP'));
    assert.equal(await removeBridgeIfUnused(bridgeName, { stateRoot }), true);
    assert.equal(await removeBridgeIfUnused(bridgeName, { stateRoot }), false, 'already gone');
  });

  it('is race-safe: six processes creating the same bridge at once agree on it', async () => {
    madeBridges.push(bridgeName);
    const outs = await Promise.all(
      Array.from({ length: 6 }, () =>
        exec(process.execPath, [
          '--input-type=module',
          '-e',
          `import { ensureBridge } from ${JSON.stringify(indexUrl)};
           console.log(JSON.stringify(await ensureBridge({ name: ${JSON.stringify(bridgeName)} })));`,
        ]).then((r) => r.stdout.trim()),
      ),
    );
    assert.equal(new Set(outs).size, 1, outs.join('\n'));
    const info = JSON.parse(outs[0]!) as BridgeInfo;
    assert.equal(info.name, bridgeName);
    assert.equal(info.mtu, 1500);
    assert.equal(info.prefixLen, 16, 'an automatic subnet is a /16');
    const { stdout } = await exec('ip', ['-j', '-4', 'addr', 'show', 'dev', bridgeName]);
    assert.equal(JSON.parse(stdout)[0].addr_info.length, 1, 'exactly one address');
  });

  it('finishes a bridge left without an address (a creator that died half-way)', async () => {
    madeBridges.push(bridgeName);
    await exec('ip', ['link', 'add', bridgeName, 'type', 'bridge']);
    const subnet = await testSubnet();
    const info = await ensureBridge({ name: bridgeName, subnet });
    assert.equal(info.subnet, subnet);
    assert.equal(info.gateway, formatIPv4(parseCidr(subnet).network + 1));
    const link = JSON.parse((await exec('ip', ['-j', '-4', 'addr', 'show', 'dev', bridgeName])).stdout)[0];
    assert.ok(link.flags.includes('UP'));
    assert.equal(link.addr_info.length, 1);
  });

  it('two namespaces on the bridge reach each other, and the host reaches them', async () => {
    const bridge = await makeBridge();
    const [pa, pb] = [await netns(), await netns()];
    const a = await allocate({ stateRoot, bridge: bridge.name, subnet: bridge.subnet, gateway: bridge.gateway, owner: 'ctr-a' });
    const b = await allocate({ stateRoot, bridge: bridge.name, subnet: bridge.subnet, gateway: bridge.gateway, owner: 'ctr-b' });
    assert.notEqual(a.address, b.address);
    const va = await attachVeth({ pid: pa, bridge: bridge.name, hostPrefix: PREFIX, mtu: 1400, address: a.address, prefixLen: a.prefixLen, gateway: a.gateway });
    const vb = await attachVeth({ pid: pb, bridge: bridge.name, hostPrefix: PREFIX, mtu: 1400, address: b.address, prefixLen: b.prefixLen, gateway: b.gateway });
    assert.match(va.hostInterface, /^edtv[0-9a-f]{8}$/);
    assert.equal(va.peerName, 'eth0');
    assert.notEqual(va.hostInterface, vb.hostInterface);

    // host ends: enslaved to the bridge, up, MTU 1400
    for (const v of [va, vb]) {
      const link = JSON.parse((await exec('ip', ['-j', 'link', 'show', 'dev', v.hostInterface])).stdout)[0];
      assert.equal(link.master, bridge.name);
      assert.equal(link.mtu, 1400);
      assert.ok(link.flags.includes('UP'));
    }
    assert.deepEqual((await readdir(`/sys/class/net/${bridge.name}/brif`)).sort(), [va.hostInterface, vb.hostInterface].sort());

    // inside: eth0 with the address and MTU 1400, lo up, default route via the gateway
    const addrs = JSON.parse(await inNs(pa, ['ip', '-j', 'addr', 'show'])) as Array<{
      ifname: string; mtu: number; flags: string[]; addr_info: Array<{ family: string; local: string; prefixlen: number }>;
    }>;
    const eth0 = addrs.find((l) => l.ifname === 'eth0');
    assert.ok(eth0, 'eth0 exists inside');
    assert.equal(eth0.mtu, 1400);
    assert.ok(eth0.flags.includes('UP'));
    assert.deepEqual(eth0.addr_info.filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`), [`${a.address}/${a.prefixLen}`]);
    assert.ok(addrs.find((l) => l.ifname === 'lo')?.flags.includes('UP'), 'lo is up');
    assert.deepEqual(
      addrs.map((l) => l.ifname).sort(),
      ['eth0', 'lo'],
    );
    const routes = JSON.parse(await inNs(pa, ['ip', '-j', 'route', 'show'])) as Array<{ dst: string; gateway?: string; dev: string }>;
    assert.ok(routes.some((r) => r.dst === 'default' && r.gateway === bridge.gateway && r.dev === 'eth0'), JSON.stringify(routes));

    // a → b, b → a, host → a through the bridge
    await pingOk(['nsenter', `--net=/proc/${pa}/ns/net`, ...ping, '-c1', '-W1', b.address]);
    await pingOk(['nsenter', `--net=/proc/${pb}/ns/net`, ...ping, '-c1', '-W1', a.address]);
    await pingOk([...ping, '-c1', '-W1', '-I', bridge.name, a.address]);

    // teardown in the driver's order: veth, address, and the bridge stays while anything is allocated
    await detachVeth(va.hostInterface);
    await detachVeth(va.hostInterface); // idempotent
    assert.deepEqual(await release(stateRoot, bridge.name, 'ctr-a'), [a.address]);
    assert.equal(await removeBridgeIfUnused(bridge.name, { stateRoot }), false, 'vb is still a port');
    await detachVeth(vb.hostInterface);
    assert.equal(await removeBridgeIfUnused(bridge.name, { stateRoot }), false, 'ctr-b still holds an address');
    assert.deepEqual(await release(stateRoot, bridge.name, 'ctr-b', b.address), [b.address]);
    assert.deepEqual(await allocations(stateRoot), []);
    assert.equal(await removeBridgeIfUnused(bridge.name, { stateRoot }), true);
  });

  it('the pair goes away with the namespace', async () => {
    const bridge = await makeBridge();
    const pid = await netns();
    const v = await attachVeth({ pid, bridge: bridge.name, hostPrefix: PREFIX, mtu: 1500, address: formatIPv4(parseCidr(bridge.subnet).network + 9), prefixLen: 24 });
    assert.ok(existsSync(`/sys/class/net/${v.hostInterface}`));
    const child = namespaces.pop()!;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
    for (let i = 0; i < 1000 && existsSync(`/sys/class/net/${v.hostInterface}`); i++) await sleep(10);
    assert.ok(!existsSync(`/sys/class/net/${v.hostInterface}`), 'the kernel removed the host end');
    await detachVeth(v.hostInterface); // still fine
  });

  it('bad input: clear errors, nothing created', async () => {
    const linksBefore = (await exec('ip', ['-o', 'link', 'show'])).stdout.split('\n').length;
    // bridge
    await assert.rejects(ensureBridge({ name: 'edt-much-too-long' }), (e: unknown) => e instanceof InvalidConfigError && /at most 15/.test(e.message));
    await assert.rejects(ensureBridge({ name: bridgeName, mtu: 10 }), (e: unknown) => e instanceof InvalidConfigError && /mtu 10 must be/.test(e.message));
    await assert.rejects(ensureBridge({ name: bridgeName, subnet: '10.88.0.5/16' }), /host bits set/);
    await assert.rejects(ensureBridge({ name: bridgeName, subnet: '127.0.0.0/8' }), (e: unknown) => e instanceof InvalidConfigError && /overlaps 127\.0\.0\.0\/8/.test(e.message));
    await assert.rejects(ensureBridge({ name: 'lo' }), (e: unknown) => e instanceof InvalidConfigError && /not a bridge/.test(e.message));
    assert.ok(!existsSync(`/sys/class/net/${bridgeName}`));
    assert.equal((await exec('ip', ['-o', 'link', 'show'])).stdout.split('\n').length, linksBefore);

    // addresses
    const bridge = await makeBridge();
    const own = { stateRoot, bridge: bridge.name, subnet: bridge.subnet, gateway: bridge.gateway };
    const outside = formatIPv4(parseCidr(bridge.subnet).network + 256);
    await assert.rejects(allocate({ ...own, owner: 'x', requested: outside }), (e: unknown) => e instanceof InvalidConfigError && /outside the subnet/.test(e.message));
    const taken = await allocate({ ...own, owner: 'x' });
    await assert.rejects(allocate({ ...own, owner: 'y', requested: taken.address }), (e: unknown) => e instanceof InvalidConfigError && /already allocated/.test(e.message));
    assert.deepEqual((await allocations(stateRoot)).map((x) => x.owner), ['x']);

    // veth
    const pid = await netns();
    const ok = { pid, bridge: bridge.name, hostPrefix: PREFIX, mtu: 1400, address: taken.address, prefixLen: taken.prefixLen, gateway: taken.gateway };
    await assert.rejects(attachVeth({ ...ok, mtu: 10 }), (e: unknown) => e instanceof InvalidConfigError && /mtu 10 must be an integer from 68 to 65535/.test(e.message));
    await assert.rejects(attachVeth({ ...ok, hostPrefix: 'much-too-long' }), InvalidConfigError);
    await assert.rejects(attachVeth({ ...ok, gateway: '192.0.2.200' }), (e: unknown) => e instanceof InvalidConfigError && /gateway/.test(e.message));
    await assert.rejects(attachVeth({ ...ok, pid: process.pid }), (e: unknown) => e instanceof InvalidConfigError && /refusing/.test(e.message));
    await assert.rejects(attachVeth({ ...ok, bridge: 'edtnosuchbr' }), (e: unknown) => e instanceof ExecDriverError && e.code === 'ERR_NETWORK' && /ip link add/.test(e.message));
    assert.deepEqual(await testVeths(), []);
    assert.deepEqual(await inNs(pid, ['ip', '-o', 'link', 'show', 'eth0']).catch(() => 'absent'), 'absent');

    // a failure inside the namespace removes the pair: a default route is already there
    await inNs(pid, ['ip', 'route', 'add', 'blackhole', 'default']);
    await assert.rejects(attachVeth(ok), (e: unknown) => {
      assert.ok(e instanceof NetworkCommandError, String(e));
      assert.equal(e.code, 'ERR_NETWORK');
      assert.match(e.message, /nsenter --net=\/proc\/self\/fd\/3 ip -batch -/);
      assert.match(e.message, /route add default via/);
      assert.match(e.stderr, /File exists/);
      return true;
    });
    assert.deepEqual(await testVeths(), [], 'rolled back');
    assert.deepEqual(await readdir(`/sys/class/net/${bridge.name}/brif`), []);

    // the namespace already has an eth0
    await inNs(pid, ['ip', 'route', 'del', 'blackhole', 'default']);
    const first = await attachVeth(ok);
    await assert.rejects(attachVeth(ok), (e: unknown) => e instanceof ExecDriverError && e.code === 'ERR_NETWORK' && /already have an interface named eth0/.test(e.message));
    assert.deepEqual(await testVeths(), [first.hostInterface]);
    // detach refuses what is not a veth
    await assert.rejects(detachVeth(bridge.name), (e: unknown) => e instanceof InvalidConfigError && /not a veth/.test(e.message));
    await assert.rejects(detachVeth('bad/name'), InvalidConfigError);
    await detachVeth(first.hostInterface);
    await release(stateRoot, bridge.name, 'x');
    assert.equal(await removeBridgeIfUnused(bridge.name, { stateRoot }), true);
  });
});
