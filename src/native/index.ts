/** The native driver: registered as `native` (the default) when this module is imported. */
import { registerDriver } from '../driver.js';
import { NativeDriver } from './driver.js';

export { NativeDriver, type ExitRecord, type NativeState } from './driver.js';

registerDriver('native', (options) => new NativeDriver(options));
