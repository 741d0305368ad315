import { createDriverFrom, DEFAULT_DRIVER, type DriverName, type DriverOptions, type ManagedDriver } from './driver.js';
// importing a driver registers it; the lxc driver checks for LXC only when one is created
import './native/index.js';
import './lxc/index.js';

export * from './driver.js';
export * from './errors.js';
export { DEFAULT_MAX_BUFFER, DEFAULT_KILL_GRACE_MS } from './api/index.js';
export { NativeDriver, type ExitRecord, type NativeState } from './native/index.js';
export { LxcDriver } from './lxc/index.js';
export { parseSize } from './cgroups/resources.js';
export { readEvents, followEvents, type RecordedEvent, type EventType, type EventRange, type FollowOptions } from './events/log.js';
// the container model (src/spec/): OCI runtime-spec v1.1 types, Command → spec, the one check
export { buildSpec, validateSpec, ociState, OCI_VERSION, type Spec, type SpecContext, type State as OciState, type ContainerStatus as OciStatus } from './spec/index.js';

/**
 * A driver by name (`native`, the default, or `lxc`). The name is typed as the registered drivers;
 * a name known only at run time (a flag, a config file) goes through `createDriverFrom(name, options)`,
 * which throws `ERR_DRIVER_NOT_FOUND` for an unknown one.
 */
export function createDriver(name: DriverName = DEFAULT_DRIVER, options: DriverOptions = {}): ManagedDriver {
  return createDriverFrom(name, options);
}
export { DEFAULT_PROFILE as DEFAULT_SECCOMP_PROFILE } from './security/seccomp/default-profile.js';
export { resolveSeccomp, validateSeccompProfile, type SeccompProfile, type ResolvedSeccomp } from './security/seccomp/profile.js';
