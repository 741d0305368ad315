/**
 * The default seccomp profile: the policy of Docker's default profile, as our own data. An
 * allow-list: anything not listed fails with EPERM. What it leaves out on purpose is what lets a
 * process reach past its container: the kernel's keyrings (keyctl, add_key, request_key), mounts
 * and namespaces (mount, umount2, unshare, setns, clone with namespace flags, clone3, pivot_root),
 * kernel code and introspection (bpf, perf_event_open, kexec_*, *_module, lookup_dcookie),
 * file handles (open_by_handle_at: the 2014 "Shocker" escape), userfaultfd, personality beyond
 * the harmless values, the host's clock, swap, reboot, accounting, quotas, raw I/O ports, and
 * AF_VSOCK sockets (a way to the hypervisor).
 *
 * Each capability that the kernel would check anyway re-allows its calls when the container has
 * it (`--cap-add SYS_ADMIN` re-allows mount, unshare, setns…), as Docker does: the rules are
 * resolved against the container's final capability set (profile.ts). pivot_root stays denied
 * even then, as in Docker. Unlike Docker's profile before version 25, io_uring_* are not allowed
 * (their kernel side has been a steady source of escapes; Docker 25 and containerd dropped them too).
 */
import type { SeccompProfile, SeccompSyscall } from './profile.js';

const CLONE_NAMESPACE_FLAGS = 0x7e020000; // NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
const ENOSYS = 38;
const AF_VSOCK = 40;

/** Calls every process needs, grouped by what they touch. */
const ALWAYS: string[] = [
  // processes, threads, signals
  'exit', 'exit_group', 'fork', 'vfork', 'execve', 'execveat', 'wait4', 'waitid', 'waitpid', 'kill', 'tkill', 'tgkill',
  'getpid', 'getppid', 'gettid', 'getpgid', 'getpgrp', 'setpgid', 'getsid', 'setsid', 'set_tid_address',
  'set_robust_list', 'get_robust_list', 'rseq', 'restart_syscall', 'pause', 'membarrier', 'pidfd_open',
  'pidfd_send_signal', 'process_mrelease', 'prctl', 'capget', 'capset', 'seccomp',
  'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend',
  'rt_sigtimedwait', 'rt_sigtimedwait_time64', 'rt_tgsigqueueinfo', 'sigaltstack', 'signalfd', 'signalfd4',
  'sigprocmask', 'sigreturn', 'alarm', 'getitimer', 'setitimer',
  // credentials (the kernel checks CAP_SETUID/SETGID)
  'getuid', 'getuid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getegid', 'getegid32', 'getgroups', 'getgroups32',
  'getresuid', 'getresuid32', 'getresgid', 'getresgid32', 'setuid', 'setuid32', 'setgid', 'setgid32', 'setreuid',
  'setreuid32', 'setregid', 'setregid32', 'setresuid', 'setresuid32', 'setresgid', 'setresgid32', 'setgroups',
  'setgroups32', 'setfsuid', 'setfsuid32', 'setfsgid', 'setfsgid32',
  // scheduling, limits, time (reading)
  'sched_yield', 'sched_getaffinity', 'sched_setaffinity', 'sched_getattr', 'sched_setattr', 'sched_getparam',
  'sched_setparam', 'sched_getscheduler', 'sched_setscheduler', 'sched_get_priority_max', 'sched_get_priority_min',
  'sched_rr_get_interval', 'sched_rr_get_interval_time64', 'getpriority', 'setpriority', 'ioprio_get', 'ioprio_set',
  'getrlimit', 'setrlimit', 'ugetrlimit', 'prlimit64', 'getrusage', 'times', 'sysinfo', 'uname', 'getcpu',
  'getrandom', 'time', 'gettimeofday', 'clock_gettime', 'clock_gettime64', 'clock_getres', 'clock_getres_time64',
  'clock_nanosleep', 'clock_nanosleep_time64', 'nanosleep', 'adjtimex', 'clock_adjtime', 'clock_adjtime64',
  'timer_create', 'timer_delete', 'timer_getoverrun', 'timer_gettime', 'timer_gettime64', 'timer_settime',
  'timer_settime64', 'timerfd_create', 'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64',
  // memory
  'brk', 'mmap', 'mmap2', 'munmap', 'mremap', 'mprotect', 'madvise', 'mincore', 'msync', 'mlock', 'mlock2',
  'mlockall', 'munlock', 'munlockall', 'remap_file_pages', 'memfd_create', 'memfd_secret', 'pkey_alloc',
  'pkey_free', 'pkey_mprotect', 'map_shadow_stack',
  // futexes, ipc
  'futex', 'futex_time64', 'futex_waitv', 'futex_wait', 'futex_wake', 'futex_requeue', 'ipc', 'msgctl', 'msgget',
  'msgrcv', 'msgsnd', 'semctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'shmat', 'shmctl', 'shmdt',
  'shmget', 'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedreceive_time64', 'mq_timedsend',
  'mq_timedsend_time64', 'mq_unlink',
  // files
  'read', 'readv', 'pread64', 'preadv', 'preadv2', 'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2', 'open',
  'openat', 'openat2', 'creat', 'close', 'close_range', 'dup', 'dup2', 'dup3', 'fcntl', 'fcntl64', 'ioctl', 'flock',
  'lseek', '_llseek', 'access', 'faccessat', 'faccessat2', 'stat', 'stat64', 'lstat', 'lstat64', 'fstat', 'fstat64',
  'newfstatat', 'fstatat64', 'statx', 'statfs', 'statfs64', 'fstatfs', 'fstatfs64', 'getdents', 'getdents64',
  'getcwd', 'chdir', 'fchdir', 'mkdir', 'mkdirat', 'rmdir', 'mknod', 'mknodat', 'link', 'linkat', 'symlink',
  'symlinkat', 'unlink', 'unlinkat', 'rename', 'renameat', 'renameat2', 'readlink', 'readlinkat', 'chmod', 'fchmod',
  'fchmodat', 'fchmodat2', 'chown', 'chown32', 'fchown', 'fchown32', 'fchownat', 'lchown', 'lchown32', 'umask',
  'truncate', 'truncate64', 'ftruncate', 'ftruncate64', 'fallocate', 'fadvise64', 'fadvise64_64', 'readahead',
  'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range', 'utime', 'utimes', 'utimensat', 'utimensat_time64',
  'futimesat', 'getxattr', 'lgetxattr', 'fgetxattr', 'setxattr', 'lsetxattr', 'fsetxattr', 'listxattr', 'llistxattr',
  'flistxattr', 'removexattr', 'lremovexattr', 'fremovexattr', 'sendfile', 'sendfile64', 'splice', 'tee', 'vmsplice',
  'copy_file_range', 'cachestat', 'pipe', 'pipe2', 'inotify_init', 'inotify_init1', 'inotify_add_watch',
  'inotify_rm_watch', 'fanotify_mark', 'eventfd', 'eventfd2', 'io_setup', 'io_destroy', 'io_submit', 'io_cancel',
  'io_getevents', 'io_pgetevents', 'io_pgetevents_time64',
  // polling
  'poll', 'ppoll', 'ppoll_time64', 'select', '_newselect', 'pselect6', 'pselect6_time64', 'epoll_create',
  'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_wait', 'epoll_wait_old', 'epoll_pwait', 'epoll_pwait2',
  // sockets
  'socketpair', 'socketcall', 'bind', 'listen', 'accept', 'accept4', 'connect', 'shutdown', 'getsockname',
  'getpeername', 'getsockopt', 'setsockopt', 'send', 'sendto', 'sendmsg', 'sendmmsg', 'recv', 'recvfrom', 'recvmsg',
  'recvmmsg', 'recvmmsg_time64',
  // sandboxing a process may do to itself
  'landlock_add_rule', 'landlock_create_ruleset', 'landlock_restrict_self',
];

/** personality(2): only these personas (Linux, and the 32-bit / no-randomization flags tools use); 0xffffffff reads it. */
const PERSONAS = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

const allow = (names: string[], more: Partial<SeccompSyscall> = {}): SeccompSyscall => ({ names, action: 'SCMP_ACT_ALLOW', ...more });
const withCap = (cap: string, names: string[], more: Partial<SeccompSyscall> = {}): SeccompSyscall =>
  allow(names, { includes: { caps: [`CAP_${cap}`], ...(more.includes ?? {}) } });

export const DEFAULT_PROFILE: SeccompProfile = {
  name: 'default',
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    { architecture: 'SCMP_ARCH_S390X', subArchitectures: ['SCMP_ARCH_S390'] },
    { architecture: 'SCMP_ARCH_PPC64LE', subArchitectures: [] },
    { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: [] },
  ],
  syscalls: [
    allow(ALWAYS),
    // tracing another process of the container: kernels since 4.8 check seccomp again after a ptrace stop
    allow(['ptrace', 'process_vm_readv', 'process_vm_writev'], { includes: { minKernel: '4.8' } }),
    ...PERSONAS.map((value) => allow(['personality'], { args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] })),
    // sockets of every family but AF_VSOCK (40): the way out to a hypervisor and its other guests
    allow(['socket'], { args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] }),
    // per-architecture
    allow(['arch_prctl'], { includes: { arches: ['amd64', 'x32'] } }),
    allow(['modify_ldt'], { includes: { arches: ['amd64', 'x32', 'x86'] } }),
    allow(['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'], {
      includes: { arches: ['arm', 'arm64'] },
    }),
    allow(['sync_file_range2', 'swapcontext'], { includes: { arches: ['ppc64le'] } }),
    allow(['s390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr'], { includes: { arches: ['s390', 's390x'] } }),
    allow(['riscv_flush_icache'], { includes: { arches: ['riscv64'] } }),
    // threads and processes: clone without namespace flags (the flags are argument 1 on s390)
    allow(['clone'], {
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] },
    }),
    allow(['clone'], {
      args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      includes: { arches: ['s390', 's390x'] },
      excludes: { caps: ['CAP_SYS_ADMIN'] },
    }),
    // clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes libcs fall back to clone
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    // what a capability re-allows
    withCap('DAC_READ_SEARCH', ['open_by_handle_at']),
    withCap('SYS_ADMIN', [
      'bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie', 'mount',
      'mount_setattr', 'move_mount', 'name_to_handle_at', 'open_tree', 'perf_event_open', 'quotactl', 'quotactl_fd',
      'setdomainname', 'sethostname', 'setns', 'syslog', 'umount', 'umount2', 'unshare',
    ]),
    withCap('SYS_BOOT', ['reboot']),
    withCap('SYS_CHROOT', ['chroot']),
    withCap('SYS_MODULE', ['delete_module', 'init_module', 'finit_module']),
    withCap('SYS_PACCT', ['acct']),
    withCap('SYS_PTRACE', ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace']),
    withCap('SYS_RAWIO', ['iopl', 'ioperm']),
    withCap('SYS_TIME', ['settimeofday', 'stime', 'clock_settime', 'clock_settime64']),
    withCap('SYS_TTY_CONFIG', ['vhangup']),
    withCap('SYS_NICE', ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node']),
    withCap('SYSLOG', ['syslog']),
    withCap('BPF', ['bpf'], { includes: { minKernel: '5.8' } }),
    withCap('PERFMON', ['perf_event_open'], { includes: { minKernel: '5.8' } }),
  ],
};
