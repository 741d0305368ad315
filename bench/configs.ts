/**
 * Configurations equivalent to what the native driver does for `run --net none -- /bin/true`:
 * namespaces mnt/uts/ipc/pid/net, a cgroup with no limits (devices cgroup restricted), pivot_root,
 * tmpfs /dev with devpts, shm and mqueue, proc, read-only sysfs, Docker's default capabilities,
 * masked /proc paths, loopback only.
 */

const CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** An OCI runtime config.json (for runc and crun). */
export function ociConfig(opts: { rootfs: string; args: string[]; cgroupsPath: string; hostname?: string }): object {
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: opts.args,
      env: [PATH, 'HOME=/root'],
      cwd: '/',
      capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
      noNewPrivileges: false,
    },
    root: { path: opts.rootfs, readonly: false },
    hostname: opts.hostname ?? 'bench',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      cgroupsPath: opts.cgroupsPath,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/sched_debug', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

export interface LxcVeth {
  bridge: string;
  /** `10.1.2.3/24` */
  address: string;
  gateway?: string;
}

/** An lxc-execute config: the same namespaces, pivot_root into the rootfs, tmpfs /dev (autodev). */
export function lxcConfig(opts: { rootfs: string; veth?: LxcVeth; hostname?: string }): string {
  const lines = [
    `lxc.rootfs.path = dir:${opts.rootfs}`,
    `lxc.uts.name = ${opts.hostname ?? 'bench'}`,
    'lxc.autodev = 1',
    'lxc.mount.auto = proc:mixed sys:ro',
    'lxc.mount.entry = shm dev/shm tmpfs nosuid,nodev,noexec,mode=1777,size=65536k,create=dir 0 0',
    'lxc.mount.entry = mqueue dev/mqueue mqueue nosuid,nodev,noexec,create=dir 0 0',
    'lxc.pty.max = 0',
    'lxc.tty.max = 0',
    'lxc.apparmor.profile = unconfined',
    `lxc.cap.keep = ${CAPS.map((c) => c.slice(4).toLowerCase()).join(' ')}`,
    'lxc.cgroup.devices.deny = a',
    ...['c 1:3', 'c 1:5', 'c 1:7', 'c 1:8', 'c 1:9', 'c 5:0', 'c 5:2', 'c 136:*'].map((d) => `lxc.cgroup.devices.allow = ${d} rwm`),
  ];
  if (opts.veth) {
    lines.push(
      'lxc.net.0.type = veth',
      `lxc.net.0.link = ${opts.veth.bridge}`,
      'lxc.net.0.flags = up',
      'lxc.net.0.name = eth0',
      `lxc.net.0.ipv4.address = ${opts.veth.address}`,
    );
    if (opts.veth.gateway) lines.push(`lxc.net.0.ipv4.gateway = ${opts.veth.gateway}`);
  } else {
    lines.push('lxc.net.0.type = empty');
  }
  return lines.join('\n') + '\n';
}
