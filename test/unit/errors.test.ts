import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDriver, DriverNotFoundError, describeErrno, ExecDriverError, registerDriver, systemError, type DriverName } from '../../src/index.js';

describe('errors and the registry', () => {
  it('errno names and text', () => {
    assert.equal(describeErrno(2), 'ENOENT (no such file or directory)');
    assert.equal(describeErrno(1), 'EPERM (operation not permitted)');
  });
  it('systemError keeps the errno, the container and the cause', () => {
    const cause = Object.assign(new Error('x'), { errno: -13, code: 'EACCES' });
    const e = systemError('ERR_CGROUP', 'write 5 to /x/y', cause, { containerId: 'c1', path: '/x/y' });
    assert.equal(e.message, 'container c1: write 5 to /x/y: EACCES (permission denied)');
    assert.equal(e.errno, 13);
    assert.equal(e.errnoName, 'EACCES');
    assert.equal(e.cause, cause);
    assert.ok(e instanceof ExecDriverError);
  });
  it('an unknown driver lists the known ones; a second registration is refused', () => {
    assert.throws(() => createDriver('nope' as DriverName), (e: Error) => e instanceof DriverNotFoundError && /known: native, lxc/.test(e.message));
    assert.throws(() => registerDriver('native', () => createDriver()), /already registered/);
  });
  it('the native driver is the default and names its version', () => {
    assert.match(createDriver().name(), /^native-\d+\.\d+\.\d+/);
  });
});
