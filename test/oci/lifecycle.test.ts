/**
 * execdriver-oci's lifecycle through the real binary: create (the process waits), start, state,
 * kill, delete and their errors as the OCI runtime specification states them; run; hooks with
 * the state on stdin, in order; nothing left under the root after delete.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until, uniqueId } from '../helpers.js';
import { spawnSync } from 'node:child_process';
import { makeBundle, OCI, oci, OCI_ROOT, runOut, type Bundle } from './bundle.js';

const state = (id: string) => {
  const r = oci(['state', id]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
};
/** alive and not a zombie (after create the init belongs to whichever subreaper is above us) */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
const empty = () => !existsSync(join(OCI_ROOT, 'native')) || readdirSync(join(OCI_ROOT, 'native')).length === 0;

describe('execdriver-oci lifecycle', () => {
  let b: Bundle;
  before(() => {
    b = makeBundle('echo started > /out; exec sleep 60');
  });
  after(() => {
    for (const id of oci(['list', '-q']).stdout.split('\n').filter(Boolean)) oci(['delete', '--force', id]);
    b.cleanup();
    rmSync(OCI_ROOT, { recursive: true, force: true });
  });

  it('create runs everything up to the process, which waits for start', async () => {
    const id = uniqueId('oci');
    const pidFile = join(b.dir, 'pid');
    const c = oci(['create', '--bundle', b.dir, '--pid-file', pidFile, id]);
    assert.equal(c.status, 0, c.stderr);
    const s = state(id);
    assert.equal(s.status, 'created');
    assert.equal(s.id, id);
    assert.equal(s.bundle, b.dir);
    assert.equal(s.rootfs, join(b.dir, 'rootfs'));
    assert.equal(s.ociVersion, '1.1.0');
    assert.ok(s.created);
    assert.equal(Number(readFileSync(pidFile, 'utf8')), s.pid);
    assert.ok(alive(s.pid));
    assert.ok(!existsSync(join(b.rootfs, 'out')), 'the process must not have run yet');
    // a second create of the id fails; delete of a created one needs --force
    const again = oci(['create', '--bundle', b.dir, id]);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /exists/);
    const del = oci(['delete', id]);
    assert.notEqual(del.status, 0);
    assert.match(del.stderr, /created/);

    assert.equal(oci(['start', id]).status, 0);
    await until(() => existsSync(join(b.rootfs, 'out')), 5000, 'the process to run');
    assert.equal(state(id).status, 'running');
    const twice = oci(['start', id]);
    assert.notEqual(twice.status, 0, 'start of a running container fails');
    assert.notEqual(oci(['delete', id]).status, 0, 'delete of a running container fails');

    const list = JSON.parse(oci(['list', '--format', 'json']).stdout);
    assert.ok(list.some((x: { id: string; status: string }) => x.id === id && x.status === 'running'));
    assert.match(oci(['list']).stdout, new RegExp(`^ID\\s+PID\\s+STATUS\\s+BUNDLE\\s+CREATED\\s+OWNER\\n${id}\\s+\\d+\\s+running`));
    const ps = JSON.parse(oci(['ps', '--format', 'json', id]).stdout);
    assert.ok(ps.includes(s.pid));

    assert.equal(oci(['pause', id]).status, 0);
    assert.equal(state(id).status, 'paused');
    assert.equal(oci(['resume', id]).status, 0);
    assert.equal(state(id).status, 'running');

    assert.equal(oci(['kill', id, 'KILL']).status, 0);
    await until(() => state(id).status === 'stopped', 5000, 'stopped');
    assert.equal(state(id).pid, 0);
    const k = oci(['kill', id, 'TERM']);
    assert.notEqual(k.status, 0, 'kill of a stopped container fails');
    assert.equal(oci(['delete', id]).status, 0);
    const gone = oci(['state', id]);
    assert.equal(gone.status, 1);
    assert.match(gone.stderr, /does not exist/);
    assert.equal(oci(['delete', '--force', id]).status, 0, 'delete --force of a missing container is no error');
    assert.ok(empty(), 'the OCI root is empty after delete');
    assert.deepEqual(readdirSync(OCI_ROOT), [], 'nothing else under the OCI root');
  });

  it('kill takes a name, SIG name or number; delete --force removes a running container', async () => {
    const id = uniqueId('oci');
    assert.equal(oci(['run', '-d', '--bundle', b.dir, id]).status, 0);
    const pid = state(id).pid;
    assert.notEqual(oci(['kill', id, 'NOPE']).status, 0);
    assert.equal(oci(['kill', id, 'SIGCONT']).status, 0);
    assert.equal(oci(['kill', id, '18']).status, 0);
    assert.equal(oci(['delete', '--force', id]).status, 0);
    assert.ok(!alive(pid));
    assert.ok(empty());
  });

  it('an absolute cgroupsPath: a cgroup in every hierarchy; delete --force kills the init and removes them all', async () => {
    const id = uniqueId('oci');
    const name = `edt-ocifix-${id}`;
    const dirs = () => readdirSync('/sys/fs/cgroup').map((h) => join('/sys/fs/cgroup', h, name)).filter((d) => existsSync(d));
    const saved = b.config.linux.cgroupsPath;
    b.config.linux.cgroupsPath = `/${name}`;
    b.write();
    try {
      assert.equal(oci(['create', '--bundle', b.dir, id]).status, 0);
      const pid = state(id).pid;
      const made = dirs();
      for (const h of ['blkio', 'memory', 'pids', 'unified']) {
        if (existsSync(`/sys/fs/cgroup/${h}`)) assert.ok(made.some((d) => d.includes(`/${h}/`)), `a cgroup in ${h}`);
      }
      for (const d of made) assert.match(readFileSync(join(d, 'cgroup.procs'), 'utf8'), new RegExp(`^${pid}$`, 'm'), `the init in ${d}`);
      assert.equal(oci(['delete', '--force', id]).status, 0);
      assert.ok(!alive(pid), 'the init is gone');
      assert.deepEqual(dirs(), [], 'no cgroup left');
      assert.deepEqual(readdirSync(OCI_ROOT), [], 'the OCI root is empty');
    } finally {
      oci(['delete', '--force', id]);
      b.config.linux.cgroupsPath = saved;
      b.write();
    }
  });

  it('after create the init belongs to the caller\'s subreaper, which reaps it (as containerd\'s shim and conmon do)', () => {
    const b2 = makeBundle('exit 7');
    try {
      const id = uniqueId('oci');
      const reaper = new URL('../../../test/oci/subreaper.py', import.meta.url).pathname;
      const r = spawnSync('python3', [reaper, OCI, OCI_ROOT, b2.dir, id], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      const got = JSON.parse(r.stdout.trim());
      assert.equal(got.status, 7);
      assert.equal(state(id).status, 'stopped');
      assert.equal(oci(['delete', id]).status, 0);
    } finally {
      b2.cleanup();
    }
  });

  it('run in the foreground exits with the process status and removes the container', () => {
    const b2 = makeBundle('echo out > /out; exit 3');
    try {
      const id = uniqueId('oci');
      const r = runOut(b2, id);
      assert.equal(r.status, 3, r.stderr);
      assert.equal(r.out, 'out\n');
      assert.notEqual(oci(['state', id]).status, 0);
      assert.ok(empty());
    } finally {
      b2.cleanup();
    }
  });

  it('hooks run in order with the state on stdin; a failing prestart hook fails create and leaves nothing', async () => {
    const b2 = makeBundle('exec sleep 60');
    const log = join(b2.dir, 'hooks.log');
    const hook = join(b2.dir, 'hook.sh');
    writeFileSync(hook, `#!/bin/sh\nprintf '%s %s ' "$1" "$2" >> ${log}\ncat >> ${log}\necho >> ${log}\n`);
    chmodSync(hook, 0o755);
    const h = (name: string) => [{ path: hook, args: ['hook', name, 'arg1'], env: ['X=1'], timeout: 5 }];
    b2.config.hooks = { prestart: h('prestart'), createRuntime: h('createRuntime'), poststart: h('poststart'), poststop: h('poststop') };
    b2.config.annotations = { 'org.test': 'yes' };
    b2.write();
    try {
      const id = uniqueId('oci');
      assert.equal(oci(['create', '--bundle', b2.dir, id]).status, 0);
      assert.equal(oci(['start', id]).status, 0);
      assert.equal(oci(['kill', id, 'KILL']).status, 0);
      await until(() => state(id).status === 'stopped', 5000, 'stopped');
      assert.equal(oci(['delete', id]).status, 0);
      const lines = readFileSync(log, 'utf8').trim().split('\n');
      assert.deepEqual(lines.map((l) => l.split(' ')[0]), ['prestart', 'createRuntime', 'poststart', 'poststop']);
      const states = lines.map((l) => JSON.parse(l.slice(l.indexOf('{'))));
      assert.deepEqual(states.map((s) => s.status), ['creating', 'creating', 'running', 'stopped']);
      for (const s of states) {
        assert.equal(s.id, id);
        assert.equal(s.bundle, b2.dir);
        assert.equal(s.annotations['org.test'], 'yes');
      }
      assert.ok(states[0].pid > 0);
      assert.ok(lines[0]!.startsWith('prestart arg1 '));

      // a failing hook: create fails, names it, and nothing stays
      b2.config.hooks = { createRuntime: [{ path: '/bin/false' }] };
      b2.write();
      const id2 = uniqueId('oci');
      const r = oci(['create', '--bundle', b2.dir, id2]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /hooks\.createRuntime\[0\] \/bin\/false failed/);
      assert.notEqual(oci(['state', id2]).status, 0);
      assert.ok(empty());
    } finally {
      b2.cleanup();
    }
  });
});
