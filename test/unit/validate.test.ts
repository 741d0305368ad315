// Library input: every Command field checked (type, NUL, range), ids and default host names.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { normalizeCommand } from '../../src/command.js';
import type { Command } from '../../src/driver.js';
import { ExecDriverError } from '../../src/errors.js';
import { renderHostname } from '../../src/network/files.js';
import { defaultHostname, validateHostname } from '../../src/network/validate.js';

const rootfs = mkdtempSync(join(tmpdir(), 'edt-validate-'));
after(() => rmSync(rootfs, { recursive: true, force: true }));
const base = (over: Record<string, unknown> = {}) => ({ id: 'v1', rootfs, entrypoint: 'sh', network: { mode: 'none' }, ...over }) as Command;

const refused = (over: Record<string, unknown>, re: RegExp) =>
  assert.throws(
    () => normalizeCommand(base(over)),
    (e: unknown) => {
      assert.ok(e instanceof ExecDriverError, `${JSON.stringify(over)}: not an ExecDriverError: ${String(e)}`);
      assert.equal(e.code, 'ERR_INVALID_CONFIG');
      assert.match(e.message, re, JSON.stringify(over));
      return true;
    },
  );

describe('Command validation: each field, each kind of bad value', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    // id
    [{ id: 42 }, /invalid container id 42/],
    [{ id: '' }, /invalid container id ""/],
    [{ id: '_x' }, /invalid container id "_x"/],
    [{ id: 'a'.repeat(65) }, /invalid container id/],
    [{ id: 'a/b' }, /invalid container id/],
    [{ id: 'a\0b' }, /invalid container id/],
    // rootfs
    [{ rootfs: 42 }, /rootfs: must be a string, not number/],
    [{ rootfs: `${rootfs}\0x` }, /rootfs: must not contain a NUL byte/],
    [{ rootfs: 'relative' }, /rootfs "relative" must be an absolute path/],
    // entrypoint, arguments
    [{ entrypoint: undefined }, /entrypoint: must be a string, not undefined/],
    [{ entrypoint: '' }, /entrypoint is empty/],
    [{ entrypoint: ['sh'] }, /entrypoint: must be a string, not an array/],
    [{ entrypoint: 'sh\0evil' }, /entrypoint: must not contain a NUL byte/],
    [{ arguments: 'x' }, /arguments: must be an array of strings/],
    [{ arguments: ['a', 1] }, /arguments\[1\]: must be a string, not number/],
    [{ arguments: ['a\0b'] }, /arguments\[0\]: must not contain a NUL byte/],
    // workingDir, user, env, hostname
    [{ workingDir: 3 }, /workingDir: must be a string/],
    [{ workingDir: 'rel' }, /workingDir "rel" must be an absolute path/],
    [{ workingDir: '/a/../b' }, /workingDir .* must not contain '\.\.'/],
    [{ workingDir: '/a\0' }, /workingDir: must not contain a NUL byte/],
    [{ user: 1000 }, /user: must be a string, not number/],
    [{ user: 'root\0' }, /user: must not contain a NUL byte/],
    [{ env: 'A=1' }, /env: must be an array of strings/],
    [{ env: [null] }, /env\[0\]: must be a string, not null/],
    [{ env: ['A=1', 'noequals'] }, /env\[1\]: invalid environment entry "noequals"/],
    [{ env: ['A=1\0B=2'] }, /env\[0\]: must not contain a NUL byte/],
    [{ hostname: 42 }, /hostname: must be a string, not number/],
    [{ hostname: 'web_1' }, /hostname: "web_1" is not a valid host name/],
    [{ hostname: '' }, /hostname: "" is not a valid host name/],
    [{ hostname: 'a'.repeat(64) }, /is not a valid host name \(1 to 63/],
    [{ hostname: 'a\0b' }, /hostname: .* is not a valid host name/],
    // booleans
    ...(['tty', 'privileged', 'readonlyRootfs', 'init', 'noNewPrivileges'] as const).map(
      (f): [Record<string, unknown>, RegExp] => [{ [f]: 'yes' }, new RegExp(`^container v1: ${f}: must be true or false, not "yes"$`)],
    ),
    // network
    [{ network: 'none' }, /network: must be an object, not "none"/],
    [{ network: null }, /network: must be an object, not null/],
    [{ network: { mode: 7 } }, /network\.mode: must be a string, not number/],
    [{ network: { mode: 'wifi' } }, /unknown network mode "wifi"/],
    [{ network: { mode: 'container:bad/id' } }, /invalid container id/],
    [{ network: { mode: 'none', mtu: 10 } }, /network\.mtu 10 must be an integer from 68 to 65535/],
    [{ network: { mode: 'none', mtu: '1500' } }, /network\.mtu 1500 must be an integer/],
    [{ network: { mode: 'bridge', bridge: 5 } }, /network\.bridge: must be a string/],
    [{ network: { mode: 'bridge', bridge: 'a-very-long-bridge-name' } }, /network\.bridge .* at most 15/],
    [{ network: { mode: 'bridge', subnet: 10 } }, /network\.subnet: must be a string/],
    [{ network: { mode: 'bridge', subnet: '10.0.0.0/31' } }, /network\.subnet .* prefix length must be 8 to 30/],
    [{ network: { mode: 'bridge', ipAddress: '300.1.1.1' } }, /network\.ipAddress: invalid IPv4 address/],
    [{ network: { mode: 'bridge', gateway: 'x' } }, /network\.gateway: invalid IPv4 address/],
    [{ network: { mode: 'bridge', prefixLen: 33 } }, /network\.prefixLen: 33 must be an integer from 8 to 30/],
    [{ network: { mode: 'none', ipAddress: '10.0.0.2' } }, /ipAddress is only for --net bridge/],
    [{ network: { mode: 'none', ipadress: '10.0.0.2' } }, /network\.ipadress: unknown field \(did you mean "network\.ipAddress"\?\)/],
    // resources
    [{ resources: 5 }, /resources: must be an object, not number/],
    [{ resources: { memory: '64m' } }, /invalid memory "64m": must be an integer/],
    [{ resources: { memory: 1 } }, /invalid memory 1: the minimum is 6 MiB/],
    [{ resources: { cpuShares: 1e6 } }, /invalid cpuShares 1000000/],
    [{ resources: { pidsLimit: 0 } }, /invalid pidsLimit 0/],
    [{ resources: { cpusetCpus: '3-1' } }, /invalid cpusetCpus "3-1"/],
    [{ resources: { memroy: 1 } }, /resources\.memroy: unknown field \(did you mean "resources\.memory"\?\)/],
    // mounts
    [{ mounts: { source: '/tmp', destination: '/x' } }, /mounts: must be an array, not object/],
    [{ mounts: [null] }, /mounts\[0\]: must be an object, not null/],
    [{ mounts: ['/tmp:/x'] }, /mounts\[0\]: must be an object, not "\/tmp:\/x"/],
    [{ mounts: [{ source: 1, destination: '/x' }] }, /mounts\[0\]\.source: must be a string, not number/],
    [{ mounts: [{ source: '/tmp\0', destination: '/x' }] }, /mounts\[0\]\.source: must not contain a NUL byte/],
    [{ mounts: [{ source: 'tmp', destination: '/x' }] }, /volume source "tmp" must be an absolute host path/],
    [{ mounts: [{ source: '/nonexistent-edt', destination: '/x' }] }, /volume source \/nonexistent-edt does not exist/],
    [{ mounts: [{ source: '/tmp' }] }, /mounts\[0\]\.destination: must be a string, not undefined/],
    [{ mounts: [{ source: '/tmp', destination: '/x\0' }] }, /mounts\[0\]\.destination: must not contain a NUL byte/],
    [{ mounts: [{ source: '/tmp', destination: 'x' }] }, /mounts\[0\]\.destination "x" must be an absolute path/],
    [{ mounts: [{ source: '/tmp', destination: '/' }] }, /cannot be mounted on \//],
    [{ mounts: [{ source: '/tmp', destination: '/x', writable: 'no' }] }, /mounts\[0\]\.writable: must be true or false/],
    [{ mounts: [{ source: '/tmp', destination: '/x', private: 1 }] }, /mounts\[0\]\.private: must be true or false/],
    [{ mounts: [{ source: '/tmp', destination: '/x', idmap: 'yes' }] }, /mounts\[0\]\.idmap: must be true or false/],
    [{ mounts: [{ source: '/tmp', destination: '/x', readonly: true }] }, /mounts\[0\]\.readonly: unknown field/],
    [{ mounts: [{ source: '/tmp', destination: '/x', idmap: true }] }, /idmapped volume needs a user namespace/],
    // capabilities
    [{ capAdd: 'ALL' }, /capAdd: must be an array of capability names, not "ALL"/],
    [{ capDrop: [1] }, /capDrop\[0\]: must be a string, not number/],
    [{ capAdd: ['NOT_A_CAP'] }, /capAdd\[0\]: .*unknown capability/],
    [{ capAmbient: {} }, /capAmbient: must be an array/],
    [{ capAmbient: ['NET_ADMIN'] }, /ambient capabilities NET_ADMIN are not kept/],
    // user namespaces
    [{ userns: 42 }, /invalid userns 42/],
    [{ userns: { mode: 'remap', user: 'a b' } }, /invalid --userns remap user/],
    [{ uidMappings: [null], gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] }, /uidMappings: invalid mapping null/],
    [{ uidMappings: [{ containerID: 0, hostID: -1, size: 1 }], gidMappings: [] }, /uidMappings: invalid mapping/],
    [{ uidMappings: 'x', gidMappings: 'y' }, /uidMappings must be a list/],
    // seccomp
    [{ seccomp: 42 }, /seccomp: must be 'unconfined' or a profile object .*, not number/],
    [{ seccomp: 'default' }, /seccomp: must be 'unconfined' or a profile object .*, not "default"/],
    [{ seccomp: null }, /seccomp: .* not null/],
    [{ seccomp: { defaultAction: 'SCMP_ACT_NOPE' } }, /seccomp profile: defaultAction/],
    // driver config
    [{ config: [] }, /config: must be an object, not an array/],
    [{ config: { lxc: 'lxc.x = 1' } }, /config\.lxc: must be an array of strings/],
    [{ config: { lxc: [3] } }, /config\.lxc\[0\]: must be a string/],
    [{ config: { lxc: ['lxc.environment = A=1\nlxc.rootfs.path = /'] } }, /config\.lxc\[0\]: must be one line/],
    [{ config: { lxc: ['lxc.environment = A\0'] } }, /config\.lxc\[0\]: must not contain a NUL byte/],
    [{ config: { lxc: ['notlxc = 1'] } }, /config\.lxc\[0\]: invalid lxc config line/],
    [{ config: { native: [] } }, /config\.native: must be an object/],
    [{ config: { native: { k: 1 } } }, /config\.native\.k: must be a string or a boolean, not number/],
    [{ config: { native: { k: 'a\0' } } }, /config\.native\.k: must not contain a NUL byte/],
    [{ config: { lcx: [] } }, /config\.lcx: unknown field \(did you mean "config\.lxc"\?\)/],
    // unknown top-level fields
    [{ readOnlyRootfs: true }, /readOnlyRootfs: unknown field \(did you mean "readonlyRootfs"\?\)/],
    [{ cmd: ['sh'] }, /^container v1: cmd: unknown field$/],
  ];
  for (const [over, re] of cases) {
    it(`${JSON.stringify(over, (_k, v) => (typeof v === 'string' ? v.replace(/\0/g, '\\0') : v)).slice(0, 90)} → ${re.source.slice(0, 60)}`, () =>
      refused(over, re));
  }

  it('not an object at all', () => {
    for (const c of [null, undefined, 'sh', 42, []]) {
      assert.throws(() => normalizeCommand(c as unknown as Command), (e: ExecDriverError) => e.code === 'ERR_INVALID_CONFIG' && /must be an object/.test(e.message));
    }
  });

  it('an unknown field set to undefined is ignored (as an absent one)', () => {
    assert.equal(normalizeCommand(base({ nothing: undefined })).id, 'v1');
  });

  it('a complete, valid command passes and keeps its values', () => {
    const c = normalizeCommand(
      base({
        arguments: ['-c', 'true'],
        workingDir: '/tmp/',
        user: '1000:1000',
        env: ['A=1'],
        hostname: 'web-1.example',
        tty: false,
        readonlyRootfs: true,
        network: { mode: 'bridge', bridge: 'edt-validate0', subnet: '10.213.0.0/24', ipAddress: '10.213.0.5', mtu: 1400 },
        resources: { memory: 64 << 20, pidsLimit: 20, cpusetCpus: '0' },
        mounts: [{ source: '/tmp', destination: '/data', writable: false }],
        capAdd: ['NET_ADMIN'],
        capAmbient: ['NET_ADMIN'],
        noNewPrivileges: true,
        seccomp: 'unconfined',
        config: { lxc: ['lxc.environment = X=1'], native: { cgroup2_devices: false } },
      }),
    );
    assert.equal(c.workingDir, '/tmp');
    assert.equal(c.hostname, 'web-1.example');
    assert.deepEqual(c.mounts, [{ source: '/tmp', destination: '/data', writable: false, private: true, kind: 'dir' }]);
    assert.deepEqual(c.config, { lxc: ['lxc.environment = X=1'], native: { cgroup2_devices: false } });
    assert.equal(c.readonlyRootfs, true);
    assert.equal(c.noNewPrivileges, true);
  });
});

describe('ids', () => {
  it('an absent id is generated: 12 hex characters, a new one each time', () => {
    const a = normalizeCommand(base({ id: undefined }));
    const b = normalizeCommand(base({ id: undefined }));
    assert.match(a.id, /^[0-9a-f]{12}$/);
    assert.notEqual(a.id, b.id);
    assert.equal(a.hostname, a.id);
  });

  it("--name-style ids with '_', '.' and '-' are valid, up to 64 characters", () => {
    for (const id of ['web_1', 'a.b', 'abcdefghijk-x', 'x', 'A1', 'a'.repeat(64), 'db-1_replica.2']) {
      assert.equal(normalizeCommand(base({ id })).id, id);
    }
  });
});

describe('default host names', () => {
  const cases: [string, string][] = [
    ['web_1', 'web-1'],
    ['abcdefghijk-x', 'abcdefghijk'], // the 12th character is '-': trimmed
    ['abcdefghijk.x', 'abcdefghijk'], // the 12th character is '.': trimmed
    ['a.b', 'a.b'],
    ['a..b', 'a.b'],
    ['a._b', 'a.b'],
    ['a__b', 'a--b'],
    ['a_', 'a'],
    ['0123456789abcdef', '0123456789ab'],
    ['a'.repeat(64), 'a'.repeat(12)],
    ['web_1_x_y_z_w', 'web-1-x-y-z'],
  ];
  for (const [id, host] of cases) {
    it(`${id} → ${host}`, () => {
      assert.equal(defaultHostname(id), host);
      const c = normalizeCommand(base({ id }));
      assert.equal(c.hostname, host);
      assert.ok(c.env.includes(`HOSTNAME=${host}`));
      assert.equal(renderHostname(c.hostname), `${host}\n`); // the network files take it too
    });
  }

  it('every valid id gives a valid host name (random ids)', () => {
    const chars = 'abcXYZ019_.-';
    for (let n = 0; n < 2000; n++) {
      const len = 1 + Math.floor(Math.random() * 64);
      let id = 'aZ0'[n % 3]!;
      while (id.length < len) id += chars[Math.floor(Math.random() * chars.length)];
      const host = defaultHostname(id);
      assert.equal(validateHostname(host), host, id);
      assert.ok(host.length >= 1 && host.length <= 12, id);
    }
  });
});

describe('one host name rule', () => {
  const valid = ['a', 'web-1', 'web-1.example.com', 'A0', '0a', 'a'.repeat(63), `${'a'.repeat(30)}.${'b'.repeat(32)}`];
  const invalid = ['', '-a', 'a-', 'a.-b', 'a..b', '.a', 'a.', 'web_1', 'a b', 'a'.repeat(64), 'ä', 'a\0'];
  for (const h of valid) {
    it(`${JSON.stringify(h.length > 20 ? `${h.slice(0, 8)}…(${h.length})` : h)} is valid for the command and the network files`, () => {
      assert.equal(normalizeCommand(base({ hostname: h })).hostname, h);
      assert.equal(renderHostname(h), `${h}\n`);
    });
  }
  for (const h of invalid) {
    it(`${JSON.stringify(h.length > 20 ? `${h.slice(0, 8)}…(${h.length})` : h)} is refused by both`, () => {
      refused({ hostname: h }, /hostname: .* is not a valid host name/);
      assert.throws(() => renderHostname(h), (e: ExecDriverError) => e.code === 'ERR_INVALID_CONFIG');
    });
  }
});
