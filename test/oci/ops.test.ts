/**
 * execdriver-oci's verbs on a running container: exec (its exit status, --env, --cwd, --user,
 * --detach with --pid-file, --process), ps, events --stats (runc's JSON line), update; the default
 * cgroup parent gone with the last container.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until, uniqueId } from '../helpers.js';
import { makeBundle, oci, OCI_ROOT, type Bundle } from './bundle.js';

describe('execdriver-oci exec, ps, events, update', () => {
  let b: Bundle;
  const id = uniqueId('ociops');
  before(() => {
    b = makeBundle('exec sleep 60');
    const r = oci(['run', '-d', '--bundle', b.dir, id]);
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => {
    oci(['delete', '--force', id]);
    b.cleanup();
    rmSync(OCI_ROOT, { recursive: true, force: true });
  });

  it('exec runs another process in the container, with its exit status', async () => {
    const r = oci(['exec', '--env', 'V=42', '--cwd', '/tmp', '--user', '1000:1000', id, 'sh', '-c', 'echo "$V $(pwd) $(id -u)" > /tmp/exec.out; exit 5']);
    assert.equal(r.status, 5, r.stderr);
    assert.equal(readFileSync(join(b.rootfs, 'tmp/exec.out'), 'utf8'), '42 /tmp 1000\n');
    const proc = join(b.dir, 'process.json');
    writeFileSync(proc, JSON.stringify({ args: ['sh', '-c', 'echo from-process > /tmp/p.out'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } }));
    assert.equal(oci(['exec', '--process', proc, id]).status, 0);
    assert.equal(readFileSync(join(b.rootfs, 'tmp/p.out'), 'utf8'), 'from-process\n');
    const pidFile = join(b.dir, 'exec.pid');
    assert.equal(oci(['exec', '-d', '--pid-file', pidFile, id, 'sleep', '30']).status, 0);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(pid > 0);
    await until(() => JSON.parse(oci(['ps', '--format', 'json', id]).stdout).includes(pid), 5000, 'the exec in ps');
    const table = oci(['ps', id]).stdout;
    assert.match(table, /PID/);
    assert.match(table, /sleep 30/);
    assert.notEqual(oci(['exec', 'nope-' + id, 'true']).status, 0);
  });

  it('events --stats prints one stats line as runc does', () => {
    const r = oci(['events', '--stats', id]);
    assert.equal(r.status, 0, r.stderr);
    const e = JSON.parse(r.stdout.trim());
    assert.equal(e.type, 'stats');
    assert.equal(e.id, id);
    assert.ok(e.data.cpu.usage.total > 0);
    assert.ok(e.data.memory.usage.usage > 0);
    assert.ok(e.data.pids.current >= 1);
  });

  it('update changes the running container\'s limits', () => {
    assert.equal(oci(['update', '--pids-limit', '77', '--memory', '96m', id]).status, 0);
    assert.equal(readFileSync(`/sys/fs/cgroup/pids/execdriver-oci/${id}/pids.max`, 'utf8').trim(), '77');
    assert.equal(readFileSync(`/sys/fs/cgroup/memory/execdriver-oci/${id}/memory.limit_in_bytes`, 'utf8').trim(), String(96 * 1024 * 1024));
    const res = join(b.dir, 'res.json');
    writeFileSync(res, JSON.stringify({ pids: { limit: 88 } }));
    assert.equal(oci(['update', '--resources', res, id]).status, 0);
    assert.equal(readFileSync(`/sys/fs/cgroup/pids/execdriver-oci/${id}/pids.max`, 'utf8').trim(), '88');
  });

  it('delete --force removes the cgroups and their default parent', () => {
    assert.equal(oci(['delete', '--force', id]).status, 0);
    for (const h of ['memory', 'pids', 'freezer']) assert.ok(!existsSync(`/sys/fs/cgroup/${h}/execdriver-oci/${id}`), h);
  });
});
