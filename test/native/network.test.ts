/**
 * Bridge networking of the native driver (issue 3), with real namespaces, veths and a bridge
 * that the test makes and removes. Traffic stays between the test's own containers and bridge.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDriver, type Command, type ManagedDriver } from '../../src/index.js';
import { allocations, chooseSubnet, hostUsedCidrs, inspectBridge, removeBridgeIfUnused } from '../../src/network/index.js';
import { BUSYBOX, capture, makeRootfs, TEST_ROOT, uniqueId, until } from '../helpers.js';

const BRIDGE = `edtb${process.pid % 100000}`;
const SMALL = `edts${process.pid % 100000}`;

describe('native driver: bridge networking', () => {
  let driver: ManagedDriver;
  let rootfs: { dir: string; cleanup: () => void };
  let subnet: string;
  const cmd = (over: Partial<Command> & { entrypoint: string }): Command & { id: string } => ({
    id: uniqueId('nw'),
    rootfs: rootfs.dir,
    network: { mode: 'bridge', bridge: BRIDGE, subnet },
    ...over,
  });
  const sh = (script: string, over: Partial<Command> = {}) => cmd({ entrypoint: 'sh', arguments: ['-c', script], ...over });
  const eth0 = async (c: Command) => {
    const cap = capture();
    const s = await driver.run(c, cap.pipes);
    assert.equal(s.exitCode, 0, cap.err());
    return cap.out();
  };

  before(async () => {
    driver = createDriver('native', { root: TEST_ROOT });
    rootfs = makeRootfs();
    subnet = chooseSubnet(await hostUsedCidrs(), { prefixLen: 24 });
  });
  after(async () => {
    rootfs.cleanup();
    await removeBridgeIfUnused(BRIDGE, { stateRoot: TEST_ROOT });
    await removeBridgeIfUnused(SMALL, { stateRoot: TEST_ROOT });
  });

  it('eth0 has the address and the MTU asked; /etc/hosts names it', async () => {
    const ip = subnet.replace(/\.0\/24$/, '.77');
    const out = await eth0(
      sh('ip -o addr show eth0; ip -o link show eth0; ip route; cat /etc/hosts /etc/hostname', {
        hostname: 'netbox',
        network: { mode: 'bridge', bridge: BRIDGE, subnet, ipAddress: ip, mtu: 1400 },
      }),
    );
    assert.match(out, new RegExp(`inet ${ip.replace(/\./g, '\\.')}/24`));
    assert.match(out, /mtu 1400/);
    assert.match(out, /^default via \S+ dev eth0/m);
    assert.match(out, new RegExp(`^${ip.replace(/\./g, '\\.')}\\s+netbox$`, 'm'));
    assert.match(out, /^netbox$/m);
  });

  it('two containers reach each other (ping, nc); the host reaches one through the bridge', async () => {
    const server = sh('nc -l -p 7777', {});
    const started = await driver.start(server, { detach: true });
    try {
      const info = driver.inspect(server.id);
      const ip = info.network?.ipAddress;
      assert.ok(ip, 'the server has an address');
      assert.equal(info.network?.bridge, BRIDGE);
      assert.match(info.network?.hostInterface ?? '', /^veth/);
      execFileSync(BUSYBOX, ['ping', '-c', '1', '-W', '2', ip], { stdio: 'ignore' });
      await until(() => {
        try {
          const listening = execFileSync('nsenter', [`--net=/proc/${started.pid}/ns/net`, BUSYBOX, 'netstat', '-ltn'], { encoding: 'utf8' });
          if (!/:7777\s/.test(listening)) return false;
          return true;
        } catch {
          return false;
        }
      }, 10_000, 'the server to listen');
      const client = await eth0(sh(`ping -c1 -W2 ${ip} >/dev/null && echo pinged; echo hello-over-the-bridge | nc ${ip} 7777 && echo sent`));
      assert.match(client, /pinged/);
      assert.match(client, /sent/);
      const exit = await driver.wait(server.id, 20_000);
      assert.equal(exit.exitCode, 0);
      const log = execFileSync('cat', [join(TEST_ROOT, 'native', server.id, 'container.log')], { encoding: 'utf8' });
      assert.equal(log, 'hello-over-the-bridge\n');
    } finally {
      await driver.delete(server.id, { force: true });
    }
  });

  it('container:<id> shares the network namespace of a running container', async () => {
    const a = cmd({ entrypoint: 'sleep', arguments: ['1000'] });
    await driver.start(a, { detach: true });
    try {
      const ip = driver.inspect(a.id).network?.ipAddress;
      const out = await eth0(
        cmd({ entrypoint: 'ip', arguments: ['-o', 'addr', 'show', 'eth0'], network: { mode: `container:${a.id}` } }),
      );
      assert.match(out, new RegExp(`inet ${ip?.replace(/\./g, '\\.')}/`));
    } finally {
      await driver.terminate(a.id);
    }
  });

  it('20 containers started in parallel get 20 distinct addresses', async () => {
    const outs = await Promise.all(Array.from({ length: 20 }, () => eth0(cmd({ entrypoint: 'ip', arguments: ['-o', '-4', 'addr', 'show', 'eth0'] }))));
    const addrs = outs.map((o) => /inet (\S+)\//.exec(o)?.[1]);
    assert.equal(new Set(addrs).size, 20, addrs.join(' '));
  });

  it('200 sequential runs on a /28 never run out of addresses', async () => {
    const small = chooseSubnet([...(await hostUsedCidrs()), subnet], { prefixLen: 28 });
    for (let i = 0; i < 200; i++) {
      const s = await driver.run(cmd({ entrypoint: 'true', network: { mode: 'bridge', bridge: SMALL, subnet: small } }));
      assert.equal(s.exitCode, 0);
    }
    assert.deepEqual(await allocations(TEST_ROOT, SMALL), []);
  });

  it('a SIGKILLed monitor or Node process leaks nothing once the container is gone', async () => {
    // the monitor
    const a = cmd({ entrypoint: 'sleep', arguments: ['1000'] });
    await driver.start(a, { detach: true });
    const rec = JSON.parse(execFileSync('cat', [join(TEST_ROOT, 'native', a.id, 'state.json')], { encoding: 'utf8' }));
    process.kill(rec.monitorPid, 'SIGKILL');
    await until(() => !driver.info(a.id).isRunning(), 10_000, 'the container to die with its monitor');
    await driver.list();
    assert.equal((await allocations(TEST_ROOT, BRIDGE)).some((x) => x.owner === `native/${a.id}`), false);
    await driver.delete(a.id);

    // the Node process running the container in the foreground
    const id = uniqueId('nw');
    const script = `
      const { createDriver } = await import(${JSON.stringify(new URL('../../src/index.js', import.meta.url).href)});
      const d = createDriver('native', { root: ${JSON.stringify(TEST_ROOT)} });
      await d.run({ id: ${JSON.stringify(id)}, rootfs: ${JSON.stringify(rootfs.dir)}, entrypoint: 'sleep', arguments: ['1000'],
        network: { mode: 'bridge', bridge: ${JSON.stringify(BRIDGE)}, subnet: ${JSON.stringify(subnet)} } }, {}, () => console.log('started'));`;
    const node = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => node.stdout.once('data', () => resolve()));
    assert.equal(driver.info(id).isRunning(), true);
    node.kill('SIGKILL');
    await until(() => !driver.info(id).isRunning(), 10_000, 'the container to die with its Node process');
    await until(async () => (await driver.list()).every((c) => c.id !== id), 10_000, 'list to reclaim it');
    assert.equal(existsSync(join(TEST_ROOT, 'native', id)), false);
    assert.deepEqual((await allocations(TEST_ROOT, BRIDGE)).filter((x) => x.owner.includes(id)), []);
  });

  it('after every container is gone: no veth, no allocation, the bridge still up', async () => {
    assert.deepEqual(await allocations(TEST_ROOT, BRIDGE), []);
    const veths = execFileSync('ip', ['-o', 'link', 'show', 'type', 'veth'], { encoding: 'utf8' });
    assert.equal(veths.trim(), '');
    const br = await inspectBridge(BRIDGE);
    assert.equal(br?.subnet, subnet);
    assert.match(execFileSync('ip', ['-o', 'link', 'show', BRIDGE], { encoding: 'utf8' }), /[<,]UP[,>]/);
  });

  it('bad input: clear errors, nothing created', async () => {
    const before = await allocations(TEST_ROOT, BRIDGE);
    const outside = '192.0.2.10';
    const taken = cmd({ entrypoint: 'sleep', arguments: ['1000'] });
    await driver.start(taken, { detach: true });
    try {
      const takenIp = driver.inspect(taken.id).network!.ipAddress!;
      const cases: [Partial<Command>, RegExp][] = [
        [{ network: { mode: 'bridge', bridge: BRIDGE, ipAddress: outside } }, /192\.0\.2\.10.*(outside|not in)/],
        [{ network: { mode: 'bridge', bridge: BRIDGE, ipAddress: takenIp } }, /taken|in use|allocated/],
        [{ network: { mode: 'container:nosuchcontainer' } }, /nosuchcontainer is not running/],
        [{ network: { mode: 'bridge', bridge: 'waytoolongbridgename' } }, /waytoolongbridgename/],
        [{ network: { mode: 'bridge', bridge: BRIDGE, mtu: 10 } }, /MTU|mtu/],
      ];
      for (const [over, re] of cases) {
        const c = cmd({ entrypoint: 'true', ...over });
        await assert.rejects(driver.run(c), (e: Error & { code: string }) => {
          assert.equal(e.code, 'ERR_INVALID_CONFIG', `${JSON.stringify(over)}: ${e.message}`);
          assert.match(e.message, re);
          return true;
        });
        assert.equal(existsSync(join(TEST_ROOT, 'native', c.id)), false);
      }
      assert.equal((await allocations(TEST_ROOT, BRIDGE)).length, before.length + 1);
    } finally {
      await driver.terminate(taken.id);
    }
  });
});
