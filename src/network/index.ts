/**
 * The network mechanism shared by the native and lxc drivers: bridge, address allocation,
 * veth pairs, and the per-container /etc/hosts, /etc/hostname and /etc/resolv.conf.
 * It knows nothing of drivers.
 */
export {
  chooseSubnet,
  hostUsedCidrs,
  parseCidr,
  formatCidr,
  parseIPv4,
  formatIPv4,
  isIPv4,
  tryParseIPv4,
  tryParseNetwork,
  netOf,
  netmask,
  broadcastOf,
  contains,
  overlaps,
  firstHost,
  lastHost,
  sizeOf,
  resolvNameservers,
  type Ipv4Net,
} from './subnet.js';
export {
  ensureBridge,
  inspectBridge,
  removeBridgeIfUnused,
  DEFAULT_BRIDGE,
  DEFAULT_MTU,
  type BridgeOptions,
  type BridgeInfo,
} from './bridge.js';
export {
  allocate,
  release,
  reclaim,
  allocations,
  ipamDir,
  type AllocateOptions,
  type Allocation,
  type AllocatedAddress,
} from './ipam.js';
export { attachVeth, detachVeth, type AttachVethOptions, type AttachedVeth } from './veth.js';
export {
  renderHosts,
  renderHostname,
  renderResolvConf,
  isLoopbackNameserver,
  validateHostname,
  writeContainerNetFiles,
  type ContainerNetFiles,
} from './files.js';
export {
  validateInterfaceName,
  validateMtu,
  validateBridgeSubnet,
  MIN_MTU,
  MAX_MTU,
  MAX_IFNAME,
} from './validate.js';
export { NetworkCommandError } from './run.js';
