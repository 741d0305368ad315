import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capabilityBits, capabilityMask, capabilitySets, DEFAULT_CAPABILITIES, keptCapabilities, normalizeCapability } from '../../src/capabilities.js';

describe('capabilities', () => {
  it('normalises names', () => {
    assert.equal(normalizeCapability('cap_sys_admin'), 'SYS_ADMIN');
    assert.equal(normalizeCapability('NET_RAW'), 'NET_RAW');
    assert.equal(normalizeCapability('all'), 'ALL');
    assert.throws(() => normalizeCapability('FLY'), /unknown capability "FLY"/);
  });
  it("the default is Docker's 14-capability allow-list, recorded for every capability", () => {
    const m = capabilityMask(false, [], []);
    assert.equal(Object.keys(m).length, 41);
    assert.deepEqual(keptCapabilities(m).sort(), [...DEFAULT_CAPABILITIES].sort());
    for (const c of ['SYS_ADMIN', 'DAC_READ_SEARCH', 'SYS_PTRACE', 'BPF', 'PERFMON', 'CHECKPOINT_RESTORE', 'NET_ADMIN']) {
      assert.equal(m[c], false, c);
    }
    // the bounding set Docker gives a default container
    assert.equal(capabilityBits(keptCapabilities(m)), '0xa80425fb');
  });
  it('cap-add and cap-drop, ALL', () => {
    assert.equal(capabilityMask(false, ['SYS_ADMIN'], [])['SYS_ADMIN'], true);
    assert.equal(capabilityMask(false, [], ['CHOWN'])['CHOWN'], false);
    assert.deepEqual(keptCapabilities(capabilityMask(false, [], ['ALL'])), []);
    assert.deepEqual(keptCapabilities(capabilityMask(false, ['NET_RAW'], ['ALL'])), ['NET_RAW']);
    assert.equal(keptCapabilities(capabilityMask(true, [], [])).length, 41);
    assert.equal(keptCapabilities(capabilityMask(false, ['ALL'], ['NET_RAW'])).length, 40);
  });
  it('the five sets: root has the kept ones, a user only the bounding set, inheritable empty unless ambient', () => {
    const kept = ['CHOWN', 'KILL', 'NET_BIND_SERVICE'];
    assert.deepEqual(capabilitySets(kept, 0), { bounding: kept, effective: kept, permitted: kept, inheritable: [], ambient: [] });
    assert.deepEqual(capabilitySets(kept, 1000), { bounding: kept, effective: [], permitted: [], inheritable: [], ambient: [] });
    const nb = ['NET_BIND_SERVICE'];
    assert.deepEqual(capabilitySets(kept, 1000, ['net_bind_service']), { bounding: kept, effective: nb, permitted: nb, inheritable: nb, ambient: nb });
    assert.throws(() => capabilitySets(kept, 1000, ['SYS_ADMIN']), /SYS_ADMIN are not in the container's capability set/);
  });
  it('bits', () => {
    assert.equal(capabilityBits(['CHOWN', 'KILL']), '0x21');
    assert.equal(capabilityBits([]), '0x0');
  });
});
