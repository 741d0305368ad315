import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ExecDriverError, InvalidConfigError } from '../../src/errors.js';
import { allocate, allocations, ipamDir, reclaim, release } from '../../src/network/index.js';

const indexUrl = new URL('../../src/network/index.js', import.meta.url).href;

let stateRoot = '';
beforeEach(async () => {
  stateRoot = await mkdtemp(join(tmpdir(), 'edt-ipam-'));
});
afterEach(async () => {
  await rm(stateRoot, { recursive: true, force: true });
});

const base = () => ({ stateRoot, bridge: 'edtipam0', subnet: '10.88.0.0/24', gateway: '10.88.0.1' });
const files = async (bridge = 'edtipam0') => readdir(ipamDir(stateRoot, bridge)).catch(() => [] as string[]);

function isInvalid(pattern: RegExp) {
  return (e: unknown) => e instanceof InvalidConfigError && e.code === 'ERR_INVALID_CONFIG' && pattern.test(e.message);
}

describe('allocate: validation', () => {
  it('refuses a requested address outside the subnet, on network/broadcast/gateway, or malformed, creating nothing', async () => {
    const cases: Array<[string, RegExp]> = [
      ['10.89.0.5', /outside the subnet 10\.88\.0\.0\/24/],
      ['10.88.0.0', /network address/],
      ['10.88.0.255', /broadcast address/],
      ['10.88.0.1', /gateway/],
      ['10.88.0', /not an IPv4 address/],
    ];
    for (const [requested, pattern] of cases) {
      await assert.rejects(allocate({ ...base(), owner: 'c1', requested }), isInvalid(pattern), requested);
    }
    assert.deepEqual(await files(), []);
  });

  it('refuses a taken address, naming its owner, and leaves only the first allocation', async () => {
    const a = await allocate({ ...base(), owner: 'first', requested: '10.88.0.7' });
    assert.equal(a.address, '10.88.0.7');
    assert.equal(a.prefixLen, 24);
    assert.equal(a.gateway, '10.88.0.1');
    await assert.rejects(
      allocate({ ...base(), owner: 'second', requested: '10.88.0.7' }),
      isInvalid(/10\.88\.0\.7 is already allocated on bridge edtipam0 \(to first\)/),
    );
    assert.deepEqual(await files(), ['10.88.0.7']);
    assert.deepEqual(await allocations(stateRoot), [{ bridge: 'edtipam0', address: '10.88.0.7', owner: 'first' }]);
  });

  it('refuses bad bridge names, subnets, gateways and owners', async () => {
    await assert.rejects(allocate({ ...base(), bridge: '../../etc', owner: 'c' }), InvalidConfigError);
    await assert.rejects(allocate({ ...base(), bridge: 'a-very-long-bridge', owner: 'c' }), isInvalid(/at most 15/));
    await assert.rejects(allocate({ ...base(), subnet: '10.88.0.0/31', owner: 'c' }), isInvalid(/prefix length/));
    await assert.rejects(allocate({ ...base(), subnet: '10.88.0.4/24', owner: 'c' }), isInvalid(/host bits/));
    await assert.rejects(allocate({ ...base(), gateway: '10.77.0.1', owner: 'c' }), isInvalid(/not a host address/));
    await assert.rejects(allocate({ ...base(), gateway: '10.88.0.255', owner: 'c' }), isInvalid(/not a host address/));
    await assert.rejects(allocate({ ...base(), owner: '' }), InvalidConfigError);
    await assert.rejects(allocate({ ...base(), owner: 'a\nb' }), InvalidConfigError);
    assert.deepEqual(await readdir(stateRoot), []);
  });
});

describe('allocate / release', () => {
  it('hands out the next address after the last one, skipping the gateway', async () => {
    const a = await allocate({ ...base(), owner: 'a' });
    const b = await allocate({ ...base(), owner: 'b' });
    assert.equal(a.address, '10.88.0.2');
    assert.equal(b.address, '10.88.0.3');
    assert.deepEqual(await release(stateRoot, 'edtipam0', 'a'), ['10.88.0.2']);
    const c = await allocate({ ...base(), owner: 'c' });
    assert.equal(c.address, '10.88.0.4', 'a released address is not reused at once');
    assert.deepEqual(await release(stateRoot, 'edtipam0', 'a'), [], 'releasing twice is harmless');
    assert.deepEqual(await release(stateRoot, 'edtipam0', 'b', '10.88.0.4'), [], 'not b’s address');
    assert.deepEqual(await release(stateRoot, 'edtipam0', 'c', '10.88.0.4'), ['10.88.0.4']);
    assert.deepEqual(
      (await allocations(stateRoot, 'edtipam0')).map((x) => x.owner),
      ['b'],
    );
  });

  it('200 sequential allocate/release on a /28 never run out', async () => {
    const opts = { ...base(), subnet: '10.88.0.16/28', gateway: '10.88.0.17' };
    const seen = new Set<string>();
    let previous = '';
    for (let i = 0; i < 200; i++) {
      const a = await allocate({ ...opts, owner: `run${i}` });
      assert.notEqual(a.address, '10.88.0.17');
      assert.notEqual(a.address, previous);
      seen.add(a.address);
      previous = a.address;
      assert.deepEqual(await release(stateRoot, 'edtipam0', `run${i}`, a.address), [a.address]);
    }
    assert.equal(seen.size, 13, 'every host address but the gateway was used');
    assert.deepEqual(await allocations(stateRoot), []);
    assert.deepEqual((await files()).filter((f) => !f.startsWith('.last')), []);
  });

  it('a full subnet is ERR_NETWORK and leaves nothing behind', async () => {
    const opts = { ...base(), subnet: '10.88.0.16/28', gateway: '10.88.0.17' };
    for (let i = 0; i < 13; i++) await allocate({ ...opts, owner: `c${i}` });
    await assert.rejects(
      allocate({ ...opts, owner: 'one-too-many' }),
      (e: unknown) => e instanceof ExecDriverError && e.code === 'ERR_NETWORK' && /no free address in 10\.88\.0\.16\/28/.test(e.message),
    );
    const names = await files();
    assert.equal(names.filter((n) => /^\d/.test(n)).length, 13);
    assert.deepEqual(names.filter((n) => n.startsWith('.tmp') || n.startsWith('.rel')), []);
  });
});

function runChild(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

describe('allocate: concurrency', () => {
  it('20 concurrent allocations from separate processes get 20 distinct addresses', async () => {
    // /27: 29 usable addresses for 20 processes, so they collide a lot.
    const opts = { ...base(), subnet: '10.88.0.32/27', gateway: '10.88.0.33' };
    const outs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        runChild(
          `import { allocate } from ${JSON.stringify(indexUrl)};
           const a = await allocate({ ...${JSON.stringify(opts)}, owner: 'proc${i}' });
           console.log(a.address);`,
        ),
      ),
    );
    assert.equal(new Set(outs).size, 20, outs.join(' '));
    const held = await allocations(stateRoot, 'edtipam0');
    assert.equal(held.length, 20);
    assert.deepEqual(new Set(held.map((h) => h.owner)), new Set(Array.from({ length: 20 }, (_, i) => `proc${i}`)));
    for (const h of held) assert.equal(outs[Number(h.owner.slice(4))], h.address);
  });
});

describe('reclaim', () => {
  it('removes allocations whose owner is gone, and temporary files of dead processes', async () => {
    await allocate({ ...base(), owner: 'alive-1' });
    await allocate({ ...base(), owner: 'dead-1' });
    await allocate({ ...base(), owner: 'dead-1' });
    await allocate({ ...base(), bridge: 'edtipam1', subnet: '10.99.0.0/24', gateway: '10.99.0.1', owner: 'dead-2' });
    const deadPid = await new Promise<number>((resolve) => {
      const c = spawn(process.execPath, ['-e', '0']);
      c.on('close', () => resolve(c.pid!));
    });
    await writeFile(join(ipamDir(stateRoot, 'edtipam0'), `.tmp-${deadPid}-abcdef`), 'crashed\n');
    const asked: string[] = [];
    const reclaimed = await reclaim(stateRoot, async (owner) => {
      asked.push(owner);
      return owner.startsWith('alive');
    });
    assert.deepEqual(reclaimed.map((r) => `${r.bridge} ${r.owner}`).sort(), ['edtipam0 dead-1', 'edtipam0 dead-1', 'edtipam1 dead-2']);
    assert.deepEqual(asked.sort(), ['alive-1', 'dead-1', 'dead-2'], 'each owner is asked once');
    assert.deepEqual(await allocations(stateRoot), [{ bridge: 'edtipam0', address: '10.88.0.2', owner: 'alive-1' }]);
    assert.deepEqual((await files()).filter((n) => n.startsWith('.tmp') || n.startsWith('.rel')), []);
  });
});
