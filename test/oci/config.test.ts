/**
 * config.json fields of execdriver-oci, each seen from inside the container (or its cgroup from
 * the host): hostname, domainname, oomScoreAdj, umask, personality, mounts and their options,
 * maskedPaths, readonlyPaths, root.readonly, cgroupsPath and resources, device rules, a
 * namespace joined by path, user namespace mappings.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { until, uniqueId } from '../helpers.js';
import { makeBundle, oci, OCI_ROOT, runOut } from './bundle.js';

const lines = (out: string) => Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

describe('execdriver-oci config.json fields', () => {
  after(() => rmSync(OCI_ROOT, { recursive: true, force: true }));

  it('hostname, domainname, oomScoreAdj, umask, personality, masked and read-only paths, mounts', () => {
    const host = join(OCI_ROOT, `..`, `oci-bind-${process.pid}`);
    mkdirSync(host, { recursive: true });
    writeFileSync(join(host, 'f'), 'bound\n');
    const b = makeBundle(
      [
        'exec > /out 2>&1',
        'echo host=$(hostname)',
        'echo domain=$(cat /proc/sys/kernel/domainname)',
        'echo oom=$(cat /proc/self/oom_score_adj)',
        'echo umask=$(umask)',
        'echo arch=$(uname -m)',
        'echo kcore=$(cat /proc/kcore | wc -c)',
        'echo irqro=$(grep " /proc/irq " /proc/mounts | cut -d" " -f4 | cut -d, -f1)',
        'echo bind=$(cat /data/f)',
        'echo bindro=$(touch /data/g 2>&1 | grep -c Read-only)',
        'echo tmpfs=$(grep " /scratch " /proc/mounts | cut -d" " -f3,4)',
        'echo dev=$(grep " /dev " /proc/mounts | cut -d" " -f4)',
        'echo shm=$(stat -c %a /dev/shm)',
        'echo nulls=$(ls /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty | wc -l)',
      ].join('\n'),
    );
    try {
      const c = b.config;
      c.hostname = 'ocibox';
      c.domainname = 'example.org';
      c.process.oomScoreAdj = 500;
      c.process.user.umask = 0o027;
      c.linux.personality = { domain: 'LINUX32' };
      c.mounts.push({ destination: '/data', type: 'bind', source: host, options: ['rbind', 'ro', 'nosuid', 'nodev'] });
      c.mounts.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'size=1m', 'mode=700'] });
      b.write();
      const id = uniqueId('ocicfg');
      const r = runOut(b, id);
      assert.equal(r.status, 0, r.stderr + r.out);
      const v = lines(r.out);
      assert.equal(v['host'], 'ocibox');
      assert.equal(v['domain'], 'example.org');
      assert.equal(v['oom'], '500');
      assert.equal(v['umask'], '0027');
      assert.match(v['arch']!, /^i[3-6]86$/);
      assert.equal(v['kcore'], '0', 'a masked path reads empty');
      assert.equal(v['irqro'], 'ro', 'a read-only path');
      assert.equal(v['bind'], 'bound');
      assert.equal(v['bindro'], '1');
      assert.match(v['tmpfs']!, /^tmpfs rw,nosuid,.*size=1024k,mode=700/);
      assert.match(v['dev']!, /nosuid/);
      assert.equal(v['shm'], '1777');
      assert.equal(v['nulls'], '6');
    } finally {
      b.cleanup();
      rmSync(host, { recursive: true, force: true });
    }
  });

  it('cgroupsPath (absolute) with memory and pids limits, and device rules', async () => {
    const b = makeBundle('exec > /out 2>&1; echo null=$(echo x > /dev/null && echo w); echo zero=$(head -c1 /dev/zero | wc -c); echo kr=$(: < /dev/tun2 && echo r); echo kw=$( (echo x > /dev/tun2) 2>&1 | grep -c "not permitted"); exec sleep 60');
    const name = uniqueId('ocicg');
    try {
      const c = b.config;
      c.linux.cgroupsPath = `/execdriver-oci-test/${name}`;
      c.linux.devices = [{ path: '/dev/tun2', type: 'c', major: 10, minor: 200, fileMode: 0o600 }];
      c.linux.resources = {
        memory: { limit: 64 * 1024 * 1024 },
        pids: { limit: 50 },
        cpu: { shares: 512 },
        devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 200, access: 'rm' }],
      };
      b.write();
      const id = uniqueId('ocicg');
      const started = oci(['run', '-d', '--bundle', b.dir, id]);
      assert.equal(started.status, 0, started.stderr);
      const dir = (h: string) => `/sys/fs/cgroup/${h}/execdriver-oci-test/${name}`;
      assert.equal(readFileSync(join(dir('memory'), 'memory.limit_in_bytes'), 'utf8').trim(), String(64 * 1024 * 1024));
      assert.equal(readFileSync(join(dir('pids'), 'pids.max'), 'utf8').trim(), '50');
      assert.equal(readFileSync(join(dir('cpu'), 'cpu.shares'), 'utf8').trim(), '512');
      const pid = JSON.parse(oci(['state', id]).stdout).pid;
      assert.ok(readFileSync(join(dir('memory'), 'cgroup.procs'), 'utf8').split('\n').includes(String(pid)));
      await until(() => existsSync(join(b.rootfs, 'out')) && readFileSync(join(b.rootfs, 'out'), 'utf8').includes('kw='), 5000, 'output');
      const v = lines(readFileSync(join(b.rootfs, 'out'), 'utf8'));
      assert.equal(v['null'], 'w', '/dev/null is allowed by the bundle');
      assert.equal(v['zero'], '1', '/dev/zero is one the runtime supplies');
      assert.equal(v['kr'], 'r', 'the bundle allows reading its device');
      assert.equal(v['kw'], '1', 'and denies writing it');
      assert.equal(oci(['delete', '--force', id]).status, 0);
      assert.ok(!existsSync(dir('memory')) && !existsSync(dir('pids')), 'the cgroups are removed');
    } finally {
      b.cleanup();
      for (const h of readdirSync('/sys/fs/cgroup')) {
        try {
          rmdirSync(`/sys/fs/cgroup/${h}/execdriver-oci-test`);
        } catch {
          /* not there, or not ours to remove */
        }
      }
    }
  });

  it('joins the network and uts namespaces of another container by path', async () => {
    const first = makeBundle('hostname > /dev/null; exec sleep 60');
    first.config.hostname = 'shared';
    first.write();
    const second = makeBundle('exec > /out; echo net=$(readlink /proc/self/ns/net); echo uts=$(hostname)');
    const a = uniqueId('ocins');
    try {
      assert.equal(oci(['run', '-d', '--bundle', first.dir, a]).status, 0);
      const pid = JSON.parse(oci(['state', a]).stdout).pid;
      second.config.hostname = undefined;
      second.config.linux.namespaces = second.config.linux.namespaces.map((n: { type: string }) =>
        n.type === 'network' ? { type: 'network', path: `/proc/${pid}/ns/net` } : n.type === 'uts' ? { type: 'uts', path: `/proc/${pid}/ns/uts` } : n,
      );
      second.write();
      const r = runOut(second, uniqueId('ocins'));
      assert.equal(r.status, 0, r.stderr);
      const v = lines(r.out);
      assert.equal(v['net'], readlinkSync(`/proc/${pid}/ns/net`));
      assert.equal(v['uts'], 'shared');
    } finally {
      oci(['delete', '--force', a]);
      first.cleanup();
      second.cleanup();
    }
  });

  it('a user namespace from uidMappings/gidMappings', () => {
    const b = makeBundle('exec > /out; echo uid=$(cat /proc/self/uid_map | tr -s " " | sed "s/^ //"); echo gid=$(cat /proc/self/gid_map | tr -s " " | sed "s/^ //"); echo id=$(id -u)');
    try {
      b.config.linux.namespaces.push({ type: 'user' });
      b.config.linux.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
      b.config.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
      b.config.mounts = b.config.mounts.filter((m: { type: string }) => m.type !== 'cgroup' && m.type !== 'sysfs');
      b.write();
      const r = runOut(b, uniqueId('ociuser'));
      assert.equal(r.status, 0, r.stderr);
      const v = lines(r.out);
      assert.equal(v['uid'], '0 200000 65536');
      assert.equal(v['gid'], '0 200000 65536');
      assert.equal(v['id'], '0');
    } finally {
      b.cleanup();
    }
  });
});
