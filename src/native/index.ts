/** The native driver: registered as `native` (the default) when this module is imported. */
import { registerDriver } from '../driver.js';
import { NativeDriver } from './driver.js';

export { NativeDriver, type ExitRecord, type NativeState } from './driver.js';

declare module '../driver.js' {
  interface DriverRegistry {
    native: NativeDriver;
  }
}

registerDriver('native', (options) => new NativeDriver(options));
