import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { sha256Hex } from '../../src/sha256.js';
import { DEFAULT_PROFILE } from '../../src/security/seccomp/default-profile.js';

describe('sha256Hex', () => {
  it("is node:crypto's sha256, at every padding boundary, in UTF-8, and for a seccomp profile", () => {
    const inputs = ['', 'abc', '/run/execdriver-test', 'é∑😀 multi-byte', JSON.stringify(DEFAULT_PROFILE)];
    for (let n = 0; n <= 200; n++) inputs.push('x'.repeat(n));
    for (const t of inputs) assert.equal(sha256Hex(t), createHash('sha256').update(t).digest('hex'), `length ${t.length}`);
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'); // FIPS 180-2 example
  });
});
