import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { controllerVersion, detectLayout, v1HierarchyOf } from '../../src/cgroups/layout.js';

/** /proc/self/mountinfo of the Debian 12 development VM (hybrid: v1 controllers + cgroup2 at unified). */
const HYBRID = `21 26 0:20 / /proc rw,relatime - proc proc rw
22 26 0:21 / /sys rw,relatime - sysfs sysfs rw
23 26 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334416k,nr_inodes=3083604,mode=755
24 23 0:22 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683620k
25 23 0:23 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
28 25 0:25 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
29 24 0:26 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683620k
30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

/** A systemd host on cgroup v2 only. */
const PURE_V2 = `22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
28 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro
`;

/** A classic v1 host: comma-joined hierarchies, a named one with extra options, a duplicate bind mount. */
const PURE_V1 = `25 20 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,net_cls,net_prio
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,cpuset,clone_children
33 25 0:30 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,devices
34 25 0:31 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,pids
35 25 0:32 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,freezer
90 80 0:28 /docker/abc /var/lib/some\\040place/memory rw,relatime - cgroup cgroup rw,memory
`;

describe('detectLayout', () => {
  it('parses this machine (hybrid)', () => {
    const l = detectLayout(HYBRID, 'hugetlb\n');
    assert.equal(l.mode, 'hybrid');
    assert.deepEqual(
      [...l.v1.keys()],
      ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'name=systemd'],
    );
    assert.deepEqual(l.v1.get('memory'), { mountpoint: '/sys/fs/cgroup/memory', controllers: ['memory'] });
    assert.deepEqual(l.v1.get('name=systemd'), { mountpoint: '/sys/fs/cgroup/systemd', controllers: [] });
    assert.deepEqual(l.v2, { mountpoint: '/sys/fs/cgroup/unified', controllers: ['hugetlb'] });
    assert.equal(controllerVersion(l, 'memory'), 1);
    assert.equal(controllerVersion(l, 'hugetlb'), 2);
    assert.equal(controllerVersion(l, 'net_cls'), undefined);
  });

  it('parses a pure v2 host', () => {
    const l = detectLayout(PURE_V2, 'cpuset cpu io memory hugetlb pids rdma misc\n');
    assert.equal(l.mode, 'v2');
    assert.equal(l.v1.size, 0);
    assert.deepEqual(l.v2, {
      mountpoint: '/sys/fs/cgroup',
      controllers: ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'],
    });
    assert.equal(controllerVersion(l, 'memory'), 2);
    assert.equal(controllerVersion(l, 'devices'), undefined);
  });

  it('parses a pure v1 host with joined and named hierarchies', () => {
    const l = detectLayout(PURE_V1, '');
    assert.equal(l.mode, 'v1');
    assert.equal(l.v2, undefined);
    assert.deepEqual(
      [...l.v1.keys()],
      ['name=systemd', 'cpu,cpuacct', 'net_cls,net_prio', 'memory', 'cpuset', 'devices', 'pids', 'freezer'],
    );
    assert.deepEqual(l.v1.get('cpu,cpuacct'), { mountpoint: '/sys/fs/cgroup/cpu,cpuacct', controllers: ['cpu', 'cpuacct'] });
    assert.deepEqual(l.v1.get('cpuset')?.controllers, ['cpuset']);
    assert.deepEqual(l.v1.get('name=systemd')?.controllers, []);
    // the bind mount of a sub-tree does not replace the hierarchy's root mount
    assert.equal(l.v1.get('memory')?.mountpoint, '/sys/fs/cgroup/memory');
    assert.equal(v1HierarchyOf(l, 'cpuacct')?.[0], 'cpu,cpuacct');
  });

  it('unescapes mountpoints and prefers a root mount that comes later', () => {
    const text = `90 80 0:28 /sub /var/lib/some\\040place/memory rw - cgroup cgroup rw,memory
31 25 0:28 / /mnt/my\\040cgroups/memory rw - cgroup cgroup rw,memory
`;
    assert.equal(detectLayout(text, '').v1.get('memory')?.mountpoint, '/mnt/my cgroups/memory');
    const only = `90 80 0:28 /sub /var/lib/some\\040place/memory rw - cgroup cgroup rw,memory\n`;
    assert.equal(detectLayout(only, '').v1.get('memory')?.mountpoint, '/var/lib/some place/memory');
  });

  it('ignores mounts that are not cgroups', () => {
    const l = detectLayout('26 1 254:0 / / rw - ext4 /dev/cgroup rw\n', '');
    assert.equal(l.mode, 'v2');
    assert.equal(l.v1.size, 0);
    assert.equal(l.v2, undefined);
  });
});
