import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { nativeFixture, TEST_ROOT, uniqueId } from '../helpers.js';

describe('native driver: lifecycle edges', () => {
  const fx = nativeFixture();

  it('an onStart that throws: run rejects with its error and the container is gone', async () => {
    const id = uniqueId('lc');
    const boom = new Error('caller failed');
    await assert.rejects(
      fx.driver.run({ id, rootfs: fx.rootfs.dir, entrypoint: 'sleep', arguments: ['1000'], network: { mode: 'none' } }, {}, () => {
        throw boom;
      }),
      (e) => e === boom,
    );
    assert.equal(fx.driver.info(id).isRunning(), false);
    assert.equal(existsSync(join(TEST_ROOT, 'native', id)), false);
  });

  it('kill, pids and terminate of an unknown container are clear errors', async () => {
    await assert.rejects(fx.driver.kill('nosuch-container'), (e: Error & { code: string }) => e.code === 'ERR_NOT_FOUND');
    await assert.rejects(fx.driver.getPidsForContainer('nosuch-container'), (e: Error & { code: string }) => e.code === 'ERR_NOT_FOUND');
    await assert.rejects(fx.driver.terminate('nosuch-container'), (e: Error & { code: string }) => e.code === 'ERR_NOT_FOUND');
    assert.equal(fx.driver.info('nosuch-container').isRunning(), false);
  });
});
