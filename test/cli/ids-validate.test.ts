/**
 * Ids with '_', '.', '-' run on both drivers (their default host name derived from the id), on
 * --net none and on a bridge this test makes (edt-validate0, a subnet that overlaps nothing) and
 * removes; an absent id is generated; a malformed Command is refused and leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDriver, type Command } from '../../src/index.js';
import { hostUsedCidrs, removeBridgeIfUnused } from '../../src/network/index.js';
import { formatCidr, overlaps, parseCidr, tryParseNetwork, type Ipv4Net } from '../../src/network/subnet.js';
import { inspectBridge } from '../../src/network/bridge.js';
import { capture, CLI, makeRootfs, TEST_ROOT } from '../helpers.js';

const BRIDGE = 'edt-validate0';
/** chosen to overlap nothing on this machine (checked in before()) */
const SUBNET = '10.213.57.0/24';
const DRIVERS = ['native', 'lxc'] as const;

/** a bridge of ours left by an earlier run has this subnet: not an overlap */
const bridgeIsOurs = async (n: Ipv4Net) => (await inspectBridge(BRIDGE))?.subnet === formatCidr(n);

let rootfs: { dir: string; cleanup: () => void };
const ed = (args: string[]): SpawnSyncReturns<string> => spawnSync(CLI, ['--root', TEST_ROOT, ...args], { encoding: 'utf8', timeout: 60_000 });
const stateDirs = (driver: string): string[] => {
  const dir = join(TEST_ROOT, driver);
  return existsSync(dir) ? readdirSync(dir).sort() : [];
};

describe('ids and default host names, on both drivers', () => {
  before(async () => {
    rootfs = makeRootfs();
    const ours = parseCidr(SUBNET);
    for (const cidr of await hostUsedCidrs()) {
      const n = tryParseNetwork(cidr);
      if (n && !(await bridgeIsOurs(n))) assert.ok(!overlaps(n, ours), `${SUBNET} overlaps ${cidr} on this host`);
    }
  });
  after(async () => {
    rootfs.cleanup();
    await removeBridgeIfUnused(BRIDGE, { stateRoot: TEST_ROOT });
  });

  const script = 'hostname; echo "file:$(cat /etc/hostname 2>/dev/null)"; echo "$HOSTNAME"';
  const cases: [string, string, string[]][] = [
    ['web_1', 'web-1', ['--net', 'none']],
    ['web_1', 'web-1', ['--net', 'bridge', '--bridge', BRIDGE, '--subnet', SUBNET]],
    ['abcdefghijk-x', 'abcdefghijk', ['--net', 'bridge', '--bridge', BRIDGE, '--subnet', SUBNET]],
  ];
  for (const driver of DRIVERS) {
    for (const [id, host, net] of cases) {
      it(`${driver}: --id ${id} ${net.slice(0, 2).join(' ')} runs, hostname ${host}, nothing left`, () => {
        const r = ed(['--driver', driver, 'run', '--id', id, ...net, '--rootfs', rootfs.dir, '--', 'sh', '-c', `${script}; exit 4`]);
        assert.equal(r.status, 4, r.stderr);
        const [uts, file, env] = r.stdout.trim().split('\n');
        assert.equal(uts, host);
        assert.equal(env, host);
        if (net[1] === 'bridge') assert.equal(file, `file:${host}`); // the network's /etc/hostname takes the same name
        assert.ok(!stateDirs(driver).includes(id), 'the state dir is removed');
      });
    }

    it(`${driver}: an explicit invalid host name is refused, naming it`, () => {
      const r = ed(['--driver', driver, 'run', '--id', 'validate_h', '--net', 'none', '--hostname', 'web_1', '--rootfs', rootfs.dir, '--', 'true']);
      assert.equal(r.status, 125);
      assert.match(r.stderr, /hostname: "web_1" is not a valid host name/);
    });

    it(`${driver}: without an id one is generated (12 hex characters), also the host name`, async () => {
      const d = createDriver(driver, { root: TEST_ROOT });
      const cap = capture();
      let started = '';
      const s = await d.run({ rootfs: rootfs.dir, entrypoint: 'hostname', network: { mode: 'none' } }, cap.pipes, (info) => (started = info.id));
      assert.equal(s.exitCode, 0, cap.err());
      assert.match(started, /^[0-9a-f]{12}$/);
      assert.equal(cap.out(), `${started}\n`);
      assert.ok(!stateDirs(driver).includes(started));
    });

    it(`${driver}: a malformed Command is refused with ERR_INVALID_CONFIG naming the field; nothing is created`, async () => {
      const d = createDriver(driver, { root: TEST_ROOT });
      const before = stateDirs(driver);
      const base = { id: 'validate_bad', rootfs: rootfs.dir, entrypoint: 'true', network: { mode: 'none' } };
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ mounts: [null] }, /mounts\[0\]: must be an object/],
        [{ capAdd: 'ALL' }, /capAdd: must be an array/],
        [{ hostname: 42 }, /hostname: must be a string/],
        [{ entrypoint: 'sh\0evil' }, /entrypoint: must not contain a NUL byte/],
        [{ id: undefined, env: [1] }, /env\[0\]: must be a string/],
        [{ network: { mode: 'bridge', bridge: BRIDGE, subnet: SUBNET, mtu: 'big' } }, /network\.mtu/],
        [{ readOnlyRootfs: true }, /did you mean "readonlyRootfs"/],
      ];
      for (const [over, re] of cases) {
        await assert.rejects(d.run({ ...base, ...over } as Command), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'ERR_INVALID_CONFIG', e.message);
          assert.match(e.message, re);
          return true;
        });
      }
      assert.deepEqual(stateDirs(driver), before);
    });
  }
});
