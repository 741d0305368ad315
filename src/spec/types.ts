/**
 * The OCI runtime specification, v1.1: the one model of a container (`config.json`) and of its
 * state. Field names are the specification's own (camelCase as in its JSON), so a bundle's
 * config.json parses into these types as is; optional fields are optional here too. Only the
 * Linux parts are modelled (this runtime is Linux-only). What a backend does not carry out is
 * refused by validateSpec, never silently ignored.
 */

/** The version of the specification our configs say they follow. */
export const OCI_VERSION = '1.1.0';

export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
}

export interface Root {
  /** the root filesystem: absolute, or relative to the bundle */
  path: string;
  readonly?: boolean;
}

export interface Box {
  height: number;
  width: number;
}

export interface User {
  uid: number;
  gid: number;
  /** the file mode creation mask of the process (a number, e.g. 0o022 = 18) */
  umask?: number;
  additionalGids?: number[];
}

/** Capability names with their `CAP_` prefix, as in the specification. */
export interface LinuxCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface POSIXRlimit {
  /** `RLIMIT_NOFILE` … */
  type: string;
  hard: number;
  soft: number;
}

export interface Process {
  terminal?: boolean;
  consoleSize?: Box;
  user: User;
  args?: string[];
  commandLine?: string;
  env?: string[];
  /** absolute */
  cwd: string;
  capabilities?: LinuxCapabilities;
  rlimits?: POSIXRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

export interface Mount {
  /** absolute path in the container */
  destination: string;
  /** `bind` for a bind mount (or the `bind`/`rbind` option), else a filesystem type */
  type?: string;
  source?: string;
  /** mount(8) options: flags (`ro`, `nosuid`, `rbind`, `rprivate` …) and filesystem data (`mode=755`) */
  options?: string[];
  /** an idmapped mount (v1.1): the source seen through these maps */
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
}

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface Hooks {
  /** deprecated by the specification in favour of the three below */
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

export type LinuxNamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export interface LinuxNamespace {
  type: LinuxNamespaceType;
  /** join this namespace (a file such as `/proc/<pid>/ns/net`) instead of making a new one */
  path?: string;
}

export interface LinuxIDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface LinuxDevice {
  /** absolute path in the container */
  path: string;
  /** `c`, `b`, `u` or `p` */
  type: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** One rule of the device cgroup (v1 `devices.allow`/`deny`, v2 a BPF program). */
export interface LinuxDeviceCgroup {
  allow: boolean;
  /** `a` (all), `c`, `b`; absent: all */
  type?: string;
  /** absent or -1: any */
  major?: number | null;
  minor?: number | null;
  /** some of `r`, `w`, `m` */
  access?: string;
}

export interface LinuxMemory {
  /** bytes */
  limit?: number;
  /** soft limit, bytes */
  reservation?: number;
  /** memory + swap, bytes; -1 unlimited */
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface LinuxCPU {
  shares?: number;
  /** microseconds per period; -1 unlimited */
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface LinuxPids {
  /** the most tasks; -1: unlimited */
  limit: number;
}

export interface LinuxWeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

export interface LinuxThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxHugepageLimit {
  pageSize: string;
  limit: number;
}

export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: { classID?: number; priorities?: { name: string; priority: number }[] };
  rdma?: Record<string, { hcaHandles?: number; hcaObjects?: number }>;
  unified?: Record<string, string>;
}

export type LinuxSeccompAction =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG'
  | 'SCMP_ACT_NOTIFY';

export type LinuxSeccompOperator =
  | 'SCMP_CMP_NE'
  | 'SCMP_CMP_LT'
  | 'SCMP_CMP_LE'
  | 'SCMP_CMP_EQ'
  | 'SCMP_CMP_GE'
  | 'SCMP_CMP_GT'
  | 'SCMP_CMP_MASKED_EQ';

export interface LinuxSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: LinuxSeccompOperator;
}

export interface LinuxSyscall {
  names: string[];
  action: LinuxSeccompAction;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

export interface LinuxSeccomp {
  defaultAction: LinuxSeccompAction;
  defaultErrnoRet?: number;
  /** `SCMP_ARCH_X86_64` … */
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}

export interface LinuxPersonality {
  domain: 'LINUX' | 'LINUX32';
  flags?: string[];
}

export interface Linux {
  namespaces?: LinuxNamespace[];
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
  devices?: LinuxDevice[];
  /** a path (relative to the cgroup roots) for the container's cgroups */
  cgroupsPath?: string;
  resources?: LinuxResources;
  sysctl?: Record<string, string>;
  seccomp?: LinuxSeccomp;
  /** `private`, `rprivate`, `slave`, `rslave`, `shared`, `rshared`, `unbindable`, `runbindable` */
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  personality?: LinuxPersonality;
  intelRdt?: Record<string, unknown>;
  timeOffsets?: Record<string, { secs?: number; nanosecs?: number }>;
}

/** The statuses of the specification's lifecycle. */
export type ContainerStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** The state of a container, as `runc state` prints it (the specification's State). */
export interface State {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** the container's init on the host; absent when it does not run */
  pid?: number;
  /** the absolute path of the bundle (for a container made from a Command: its state directory) */
  bundle: string;
  annotations?: Record<string, string>;
}
