/**
 * stats reads the network counters in the container's own network namespace: a container on a
 * bridge of this test (edt-ops1) pings the bridge's address; its eth0 counts those packets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import '../../src/lxc/index.js';
import { createDriver } from '../../src/index.js';
import { chooseSubnet, hostUsedCidrs, removeBridgeIfUnused } from '../../src/network/index.js';
import { makeRootfs, TEST_ROOT, uniqueId, until } from '../helpers.js';

const BRIDGE = 'edt-ops1';

describe('stats: network counters of eth0 (bridge)', () => {
  let rootfs: { dir: string; cleanup: () => void };
  let subnet: string;
  before(async () => {
    rootfs = makeRootfs();
    subnet = chooseSubnet(await hostUsedCidrs(), { prefixLen: 24 });
  });
  after(async () => {
    rootfs.cleanup();
    await removeBridgeIfUnused(BRIDGE, { stateRoot: TEST_ROOT });
  });

  for (const name of ['native', 'lxc'] as const) {
    it(`${name}: rx/tx bytes and packets of eth0 after pinging the bridge`, async () => {
      const driver = createDriver(name, { root: TEST_ROOT });
      const gateway = subnet.replace(/\.0\/24$/, '.1');
      const id = uniqueId('opsn');
      await driver.start(
        {
          id,
          rootfs: rootfs.dir,
          entrypoint: 'sh',
          arguments: ['-c', `ping -c 5 -i 0.2 ${gateway} > /tmp/ping 2>&1; echo done >> /tmp/ping; sleep 1000`],
          network: { mode: 'bridge', bridge: BRIDGE, subnet },
        },
        { detach: true },
      );
      try {
        const s = await until(async () => {
          const x = await driver.stats(id);
          return (x.networks['eth0']?.txPackets ?? 0) >= 5 && (x.networks['eth0']?.rxPackets ?? 0) >= 5 ? x : undefined;
        }, 15_000, 'five pings each way on eth0');
        const eth0 = s!.networks['eth0']!;
        assert.ok(eth0.rxBytes >= 5 * 60 && eth0.txBytes >= 5 * 60, JSON.stringify(eth0)); // frames of at least 60 bytes
        assert.equal(s!.networks['lo'], undefined, 'loopback left out');
      } finally {
        await driver.delete(id, { force: true });
      }
    });
  }
});
