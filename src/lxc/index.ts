/**
 * The lxc driver: registered as `lxc` when this module is imported (nothing is checked at
 * import: a missing LXC installation is an ERR_DRIVER_UNAVAILABLE error when the driver is
 * created).
 */
import { registerDriver } from '../driver.js';
import { LxcDriver } from './driver.js';

export { LxcDriver, hostFacts, DRIVER_NAME as LXC_DRIVER_NAME, type LxcState, type LxcExitRecord, type LxcDriverOptions } from './driver.js';
export { renderConfig, stopHookCommand, escapeMountPath, type LxcHostFacts, type LxcRenderContext } from './template.js';
export { parseLxcInfo, type LxcInfo } from './info.js';
export { parseLxcLog, type LxcRun } from './log.js';

declare module '../driver.js' {
  interface DriverRegistry {
    lxc: LxcDriver;
  }
}

registerDriver('lxc', (options) => new LxcDriver(options));
