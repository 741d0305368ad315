/** Pure parts of issue 12 items 3 and 4: the overlay in the native plan, -p parsing, the nft scripts. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { normalizeCommand } from '../../src/command.js';
import { natScript } from '../../src/network/networks.js';
import { parsePublish, portScript, portTable } from '../../src/network/ports.js';
import { buildPlan } from '../../src/native/plan.js';
import type { Op } from '../../src/init/protocol.js';
import { overlayData } from '../../src/rootfs/overlay.js';
import { buildSpec } from '../../src/spec/index.js';

const a = mkdtempSync(join(tmpdir(), 'execdriver-unit-a-'));
const b = mkdtempSync(join(tmpdir(), 'execdriver-unit-b-'));
after(() => [a, b].forEach((d) => rmSync(d, { recursive: true, force: true })));

const plan = (over: object, extra: object = {}): Op[] =>
  buildPlan({
    spec: buildSpec(normalizeCommand({ id: 'x', rootfs: a, entrypoint: 'true', ...over }), { user: { uid: 0, gid: 0, groups: [] }, cgroupNamespace: true }),
    hostCapabilities: ['CHOWN'],
    lastCap: 40,
    exitFile: '/s/exit.json',
    cleanupCgroups: [],
    detach: false,
    overlay: { upper: '/s/rootfs/upper', work: '/s/rootfs/work' },
    ...extra,
  });

describe('the copy-on-write rootfs in the native plan', () => {
  it('overlay (the default): mounted on the lowest layer, the layers top first', () => {
    const ops = plan({ rootfs: [a, b] });
    const m = ops.find((o) => o[0] === 'mount' && o[3] === 'overlay');
    assert.deepEqual(m, ['mount', 'overlay', a, 'overlay', '0', `lowerdir=${b}:${a},upperdir=/s/rootfs/upper,workdir=/s/rootfs/work`, '']);
    assert.ok(!ops.some((o) => o[0] === 'mount' && o[1] === a && o[2] === a), 'no bind of the rootfs');
  });
  it('a user namespace: every layer idmapped by the monitor, moved onto itself, overlay with userxattr', () => {
    const ops = plan({ rootfs: [a, b], uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] });
    const sources = ops.map((o, i) => [o, i] as const).filter(([o]) => o[0] === 'mount-source');
    assert.deepEqual(sources.map(([o]) => o.slice(1)), [[a, 'idmap'], [b, 'idmap']]);
    for (const [o, i] of sources) assert.ok(ops.some((m) => m[0] === 'move-mount' && m[1] === String(i) && m[2] === o[1]));
    assert.match(ops.find((o) => o[3] === 'overlay')![5]!, /,userxattr$/);
  });
  it('direct: the bind of today, no overlay', () => {
    const ops = plan({ rootfsMode: 'direct' }, { overlay: undefined });
    assert.ok(ops.some((o) => o[0] === 'mount' && o[1] === a && o[2] === a));
    assert.ok(!ops.some((o) => o[3] === 'overlay'));
  });
  it('overlayData reverses the lowest-first list', () => {
    assert.equal(overlayData(['/l', '/m', '/t'], '/u', '/w', false), 'lowerdir=/t:/m:/l,upperdir=/u,workdir=/w');
  });
});

describe('-p and the nft scripts', () => {
  it('parses docker\'s forms', () => {
    assert.deepEqual(parsePublish('127.0.0.1:18080:8080'), { hostIp: '127.0.0.1', hostPort: 18080, containerPort: 8080, protocol: 'tcp' });
    assert.deepEqual(parsePublish('53:5353/udp'), { hostPort: 53, containerPort: 5353, protocol: 'udp' });
    assert.deepEqual(parsePublish(':80:80'), { hostPort: 80, containerPort: 80, protocol: 'tcp' });
  });
  it('refuses bad input in one line naming it', () => {
    for (const [t, re] of [['99999:1', /host port "99999"/], ['1:0', /container port "0"/], ['80', /HOSTPORT:CONTAINERPORT/], ['x:1:2', /host address "x"/], ['1:2/icmp', /protocol "icmp"/], ['1:2:3:4', /expected/]] as const) {
      assert.throws(() => parsePublish(t), (e: Error) => re.test(e.message) && e.message.startsWith(`-p ${t}:`) && !e.message.includes('\n'));
    }
  });
  it('one table per container: DNAT in prerouting and output, masquerade of loopback sources', () => {
    const s = portScript('native/c1', '10.213.91.2', [parsePublish('127.0.0.1:18080:8080'), parsePublish('53:53/udp')]);
    assert.equal(portTable('native/c1'), 'execdriver-port-native-c1');
    assert.match(s, /^table ip execdriver-port-native-c1 \{/);
    assert.equal(s.match(/ip daddr 127\.0\.0\.1 tcp dport 18080 dnat to 10\.213\.91\.2:8080/g)?.length, 2);
    assert.equal(s.match(/fib daddr type local udp dport 53 dnat to 10\.213\.91\.2:53/g)?.length, 2);
    assert.match(s, /ip saddr 127\.0\.0\.0\/8 ip daddr 10\.213\.91\.2 tcp dport 8080 masquerade/);
  });
  it('a network\'s nat: its subnet masqueraded when leaving by another interface', () => {
    const s = natScript({ name: 'n1', bridge: 'n1', subnet: '10.213.92.0/24', gateway: '10.213.92.1', mtu: 1500, nat: true, createdAt: '' });
    assert.match(s, /table ip execdriver-nat-n1 \{[\s\S]*ip saddr 10\.213\.92\.0\/24 oifname != "n1" masquerade/);
  });
});
