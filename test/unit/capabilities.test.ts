import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capabilityBits, capabilityMask, keptCapabilities, normalizeCapability } from '../../src/capabilities.js';

describe('capabilities', () => {
  it('normalises names', () => {
    assert.equal(normalizeCapability('cap_sys_admin'), 'SYS_ADMIN');
    assert.equal(normalizeCapability('NET_RAW'), 'NET_RAW');
    assert.equal(normalizeCapability('all'), 'ALL');
    assert.throws(() => normalizeCapability('FLY'), /unknown capability "FLY"/);
  });
  it("the default mask drops Docker 0.11's list and keeps MKNOD", () => {
    const m = capabilityMask(false, [], []);
    assert.equal(m['SYS_ADMIN'], false);
    assert.equal(m['NET_ADMIN'], false);
    assert.equal(m['MKNOD'], true);
    assert.equal(m['CHOWN'], undefined);
    const kept = keptCapabilities(m);
    assert.ok(kept.includes('CHOWN') && !kept.includes('SYS_ADMIN'));
  });
  it('cap-add and cap-drop, ALL', () => {
    assert.equal(capabilityMask(false, ['SYS_ADMIN'], [])['SYS_ADMIN'], true);
    assert.equal(capabilityMask(false, [], ['CHOWN'])['CHOWN'], false);
    assert.deepEqual(keptCapabilities(capabilityMask(false, [], ['ALL'])), []);
    assert.deepEqual(keptCapabilities(capabilityMask(false, ['NET_RAW'], ['ALL'])), ['NET_RAW']);
    assert.equal(keptCapabilities(capabilityMask(true, [], [])).length, 41);
  });
  it('bits', () => {
    assert.equal(capabilityBits(['CHOWN', 'KILL']), '0x21');
    assert.equal(capabilityBits([]), '0x0');
  });
});
