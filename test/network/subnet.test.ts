import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExecDriverError, InvalidConfigError } from '../../src/errors.js';
import {
  broadcastOf,
  chooseSubnet,
  contains,
  firstHost,
  formatCidr,
  formatIPv4,
  hostUsedCidrs,
  lastHost,
  netmask,
  overlaps,
  parseCidr,
  parseIPv4,
  tryParseIPv4,
  tryParseNetwork,
} from '../../src/network/index.js';

describe('IPv4 and CIDR math', () => {
  it('parses and formats dotted quads', () => {
    assert.equal(parseIPv4('10.88.0.1'), 0x0a580001);
    assert.equal(parseIPv4('255.255.255.255'), 0xffffffff);
    assert.equal(formatIPv4(0x0a580001), '10.88.0.1');
    assert.equal(formatIPv4(0xffffffff), '255.255.255.255');
    assert.equal(formatIPv4(0), '0.0.0.0');
    for (const bad of ['1.2.3', '256.1.1.1', '01.2.3.4', ' 1.2.3.4', '1.2.3.4.5', '', 'a.b.c.d', '1.2.3.-1']) {
      assert.equal(tryParseIPv4(bad), null, bad);
    }
    assert.throws(() => parseIPv4('1.2.3'), InvalidConfigError);
  });

  it('parses CIDRs, refusing host bits and bad prefixes', () => {
    assert.deepEqual(parseCidr('10.88.0.0/16'), { network: 0x0a580000, prefixLen: 16 });
    assert.deepEqual(parseCidr('0.0.0.0/0'), { network: 0, prefixLen: 0 });
    assert.equal(formatCidr(parseCidr('192.168.7.0/24')), '192.168.7.0/24');
    assert.throws(() => parseCidr('10.88.0.5/16'), /host bits set \(did you mean 10\.88\.0\.0\/16\?\)/);
    assert.throws(() => parseCidr('10.88.0.0/33'), InvalidConfigError);
    assert.throws(() => parseCidr('10.88.0.0'), /not a CIDR/);
    assert.throws(() => parseCidr('10.88.0.0/'), InvalidConfigError);
    assert.deepEqual(tryParseNetwork('10.88.3.4/16'), { network: 0x0a580000, prefixLen: 16 });
    assert.deepEqual(tryParseNetwork('10.88.3.4'), { network: 0x0a580304, prefixLen: 32 });
    assert.equal(tryParseNetwork('nope/8'), null);
  });

  it('computes masks, broadcast, hosts, containment and overlap', () => {
    assert.equal(netmask(0), 0);
    assert.equal(netmask(16), 0xffff0000);
    assert.equal(netmask(32), 0xffffffff);
    const n = parseCidr('10.88.0.0/28');
    assert.equal(formatIPv4(broadcastOf(n)), '10.88.0.15');
    assert.equal(formatIPv4(firstHost(n)), '10.88.0.1');
    assert.equal(formatIPv4(lastHost(n)), '10.88.0.14');
    assert.ok(contains(n, parseIPv4('10.88.0.15')));
    assert.ok(!contains(n, parseIPv4('10.88.0.16')));
    assert.ok(overlaps(parseCidr('10.0.0.0/8'), parseCidr('10.88.0.0/16')));
    assert.ok(overlaps(parseCidr('10.88.0.0/16'), parseCidr('10.0.0.0/8')));
    assert.ok(!overlaps(parseCidr('10.88.0.0/16'), parseCidr('10.89.0.0/16')));
    assert.ok(overlaps(parseCidr('0.0.0.0/0'), parseCidr('192.168.1.0/24')));
    assert.ok(!overlaps(parseCidr('172.17.0.0/16'), parseCidr('172.18.0.0/16')));
  });
});

describe('chooseSubnet', () => {
  it('starts at 10.88.0.0/16', () => {
    assert.equal(chooseSubnet([]), '10.88.0.0/16');
  });

  it('skips used ranges, whatever their size, and bare addresses', () => {
    assert.equal(chooseSubnet(['10.88.0.0/16', '10.89.1.0/24']), '10.90.0.0/16');
    assert.equal(chooseSubnet(['10.88.3.4']), '10.89.0.0/16');
    assert.equal(chooseSubnet(['10.64.0.0/10']), '10.128.0.0/16');
    assert.equal(chooseSubnet(['10.0.0.0/8', '172.17.0.0/16']), '172.18.0.0/16');
    assert.equal(chooseSubnet(['10.0.0.0/8', '172.16.0.0/12']), '192.168.0.0/16');
  });

  it('wraps around inside a range', () => {
    assert.equal(chooseSubnet(['10.88.0.0/13', '10.96.0.0/11', '10.128.0.0/9']), '10.0.0.0/16');
  });

  it('falls back to a /24 when no /16 is free', () => {
    assert.equal(chooseSubnet(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/24']), '192.168.1.0/24');
    assert.equal(chooseSubnet(['10.0.0.0/9', '10.128.0.0/9', '172.16.0.0/12', '192.168.200.0/24']), '192.168.0.0/24');
  });

  it('honours a prefix length', () => {
    assert.equal(chooseSubnet([], { prefixLen: 24 }), '10.88.0.0/24');
    assert.equal(chooseSubnet(['10.88.0.0/24', '10.88.1.7'], { prefixLen: 24 }), '10.88.2.0/24');
    assert.equal(chooseSubnet(['10.88.0.0/28'], { prefixLen: 28 }), '10.88.0.16/28');
    assert.throws(() => chooseSubnet([], { prefixLen: 31 }), InvalidConfigError);
  });

  it('says so when everything is taken', () => {
    assert.throws(
      () => chooseSubnet(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']),
      (e: unknown) => e instanceof ExecDriverError && e.code === 'ERR_NETWORK' && /no free private subnet/.test(e.message),
    );
  });

  it('never picks a range in use on this host', async () => {
    const used = await hostUsedCidrs();
    assert.ok(used.length > 0);
    for (const c of used) assert.ok(tryParseNetwork(c), c);
    assert.ok(!used.includes('0.0.0.0/0'), 'the default route is not "in use"');
    assert.ok(used.some((c) => c.startsWith('127.')), 'loopback is listed');
    for (const len of [16, 24]) {
      const chosen = parseCidr(chooseSubnet(used, { prefixLen: len }));
      for (const c of used) assert.ok(!overlaps(chosen, tryParseNetwork(c)!), `${formatCidr(chosen)} overlaps ${c}`);
    }
  });
});
