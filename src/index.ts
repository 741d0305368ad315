import { createDriverFrom, DEFAULT_DRIVER, registerDriver, type DriverOptions, type ManagedDriver } from './driver.js';
import { NativeDriver } from './native/driver.js';

export * from './driver.js';
export * from './errors.js';
export { NativeDriver } from './native/driver.js';
export type { ExitRecord, NativeState } from './native/driver.js';
export { parseSize } from './cgroups/resources.js';

registerDriver('native', (options) => new NativeDriver(options));

/** A driver by name (`native`, the default, or `lxc`). */
export function createDriver(name: string = DEFAULT_DRIVER, options: DriverOptions = {}): ManagedDriver {
  return createDriverFrom(name, options);
}
