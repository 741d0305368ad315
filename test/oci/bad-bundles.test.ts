/**
 * Bad bundles: a clear error naming what is wrong, in --log as JSON lines when asked (level, msg,
 * time), exit status 1, and nothing created (no state directory, no cgroup).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { uniqueId } from '../helpers.js';
import { makeBundle, oci, OCI_ROOT, type Bundle } from './bundle.js';

describe('execdriver-oci bad bundles', () => {
  let b: Bundle;
  let saved: string;
  before(() => {
    b = makeBundle('true');
    saved = JSON.stringify(b.config);
  });
  after(() => {
    b.cleanup();
    rmSync(OCI_ROOT, { recursive: true, force: true });
  });

  /** create with a JSON log: the error's line, after checking that nothing exists */
  function refused(text: RegExp, format = 'json'): void {
    const id = uniqueId('ocibad');
    const log = join(b.dir, `log-${id}`);
    const r = oci(['--log', log, '--log-format', format, 'create', '--bundle', b.dir, id]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, text);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    if (format === 'json') {
      const last = JSON.parse(lines.at(-1)!);
      assert.equal(last.level, 'error');
      assert.match(last.msg, text);
      assert.ok(!Number.isNaN(Date.parse(last.time)));
    } else {
      assert.match(lines.at(-1)!, /^time="[^"]+" level=error msg=".*"$/);
    }
    assert.ok(!existsSync(join(OCI_ROOT, 'native', id)), 'no state directory');
    const dirs = existsSync(join(OCI_ROOT, 'native')) ? readdirSync(join(OCI_ROOT, 'native')) : [];
    assert.deepEqual(dirs, []);
    for (const h of ['memory', 'pids', 'unified']) assert.ok(!existsSync(`/sys/fs/cgroup/${h}/execdriver-oci/${id}`), `no ${h} cgroup`);
    assert.notEqual(oci(['state', id]).status, 0);
  }
  const edit = (f: (c: Record<string, any>) => void) => {
    b.config = JSON.parse(saved);
    f(b.config);
    b.write();
  };

  it('no config.json', () => {
    unlinkSync(join(b.dir, 'config.json'));
    refused(/cannot read config\.json/);
    b.write();
  });

  it('config.json that is not JSON (text log format too)', () => {
    writeFileSync(join(b.dir, 'config.json'), '{"ociVersion": ');
    refused(/config\.json is not JSON/);
    refused(/config\.json is not JSON/, 'text');
  });

  it('a field of the wrong type, an unknown namespace type', () => {
    edit((c) => (c.hostname = 42));
    refused(/hostname must be a string/);
    edit((c) => c.linux.namespaces.push({ type: 'bogus' }));
    refused(/linux\.namespaces\[\d\]\.type "bogus" is not a namespace type/);
  });

  it('a relative root that leads out of the bundle', () => {
    mkdirSync(join(b.dir, '..', `outside-${process.pid}`), { recursive: true });
    try {
      edit((c) => (c.root.path = `../outside-${process.pid}`));
      refused(/root\.path .* leads out of the bundle/);
    } finally {
      rmSync(join(b.dir, '..', `outside-${process.pid}`), { recursive: true, force: true });
    }
  });

  it('a mount destination through a symlink that escapes the rootfs', () => {
    symlinkSync('../../../..', join(b.rootfs, 'escape'));
    try {
      edit((c) => c.mounts.push({ destination: '/escape/etc', type: 'tmpfs', source: 'tmpfs' }));
      refused(/mounts\[\d+\]\.destination \/escape\/etc goes through the symlink \/escape, which leads out of the root filesystem/);
    } finally {
      unlinkSync(join(b.rootfs, 'escape'));
    }
  });

  it('a namespace path that is not a namespace, or of another type', () => {
    edit((c) => (c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) => (n.type === 'network' ? { type: 'network', path: '/tmp' } : n))));
    refused(/linux\.namespaces\[\d\]\.path \/tmp is not a namespace/);
    edit((c) => (c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) => (n.type === 'network' ? { type: 'network', path: '/proc/self/ns/ipc' } : n))));
    refused(/is a ipc namespace, not net/);
  });

  it('fields it cannot honour are refused by name', () => {
    edit((c) => (c.mounts = [...c.mounts, { destination: '/bin', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup'] }]));
    refused(/\(\/bin\): tmpcopyup of a directory with content is not supported by execdriver-oci yet/);
    edit((c) => (c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) => (n.type === 'pid' ? { type: 'pid', path: '/proc/1/ns/pid' } : n))));
    refused(/joining an existing pid namespace is not supported yet/);
    edit((c) => (c.linux.cgroupsPath = 'system.slice:oci:x'));
    refused(/slice:prefix:name .* --systemd-cgroup was not given/);
    edit((c) => (c.process.terminal = true));
    refused(/--console-socket/);
  });

  it('--systemd-cgroup where no systemd runs: a clear error', () => {
    b.config = JSON.parse(saved);
    b.write();
    const id = uniqueId('ocibad');
    const r = oci(['--systemd-cgroup', 'create', '--bundle', b.dir, id]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /systemd/);
    assert.notEqual(oci(['state', id]).status, 0);
  });
});
