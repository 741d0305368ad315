import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDriver, type ManagedDriver } from '../../src/index.js';
import { makeRootfs, TEST_ROOT, uniqueId } from '../helpers.js';

describe('native driver: lifecycle edges', () => {
  let driver: ManagedDriver;
  let rootfs: { dir: string; cleanup: () => void };
  before(() => {
    driver = createDriver('native', { root: TEST_ROOT });
    rootfs = makeRootfs();
  });
  after(() => rootfs.cleanup());

  it('an onStart that throws: run rejects with its error and the container is gone', async () => {
    const id = uniqueId('lc');
    const boom = new Error('caller failed');
    await assert.rejects(
      driver.run({ id, rootfs: rootfs.dir, entrypoint: 'sleep', arguments: ['1000'], network: { mode: 'none' } }, {}, () => {
        throw boom;
      }),
      (e) => e === boom,
    );
    assert.equal(driver.info(id).isRunning(), false);
    assert.equal(existsSync(join(TEST_ROOT, 'native', id)), false);
  });

  it('kill, pids and terminate of an unknown container are clear errors', async () => {
    await assert.rejects(driver.kill('nosuch-container'), (e: Error & { code: string }) => e.code === 'ERR_NOT_FOUND');
    await assert.rejects(driver.getPidsForContainer('nosuch-container'), (e: Error & { code: string }) => e.code === 'ERR_NOT_FOUND');
    await assert.rejects(driver.terminate('nosuch-container'), (e: Error & { code: string }) => e.code === 'ERR_NOT_FOUND');
    assert.equal(driver.info('nosuch-container').isRunning(), false);
  });
});
