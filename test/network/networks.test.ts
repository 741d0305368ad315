/**
 * Networks, published ports and outbound NAT (issue 12 item 4), on both drivers. Traffic only to
 * loopback, to this test's bridges and containers, and to a server in a network namespace this
 * test makes, routed only through the host. Bridges `edt-rootfs*`, subnets 10.213.91-94.0/24.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createDriver, type Command, type ManagedDriver } from '../../src/index.js';
import { createNetwork, removeNetwork } from '../../src/network/networks.js';
import { portTable } from '../../src/network/ports.js';
import { capture, CLI, makeRootfs, TEST_ROOT, uniqueId, until } from '../helpers.js';

const tag = (process.pid % 1000).toString(36);
const PORTS_NET = `edt-rootfsa${tag}`;
const NAT_NET = `edt-rootfsb${tag}`;
const CLI_NET = `edt-rootfsc${tag}`;
const NS = `edt-rootfs-ns${tag}`;
const VETH = `edt-rootfsv${tag}`;
const env = { ...process.env, EXECDRIVER_ROOT: TEST_ROOT };
const cli = (...args: string[]) => spawnSync(CLI, args, { encoding: 'utf8', env });
const nftTables = () => execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });

/** Connect to 127.0.0.1:port (retried until the container listens), send `data`, close. */
async function sendTo(port: number, data: string): Promise<void> {
  await until(
    () =>
      new Promise<boolean>((resolve) => {
        const s = connect({ host: '127.0.0.1', port });
        s.once('error', () => resolve(false));
        s.once('connect', () => s.end(data, () => resolve(true)));
      }),
    15_000,
    `a connection to 127.0.0.1:${port}`,
  );
}

let rootfs: { dir: string; cleanup: () => void };
before(async () => {
  rootfs = makeRootfs();
  await createNetwork(TEST_ROOT, PORTS_NET, { subnet: '10.213.91.0/24' });
  // NAT: forwarding on the bridge (create) and on our own veth; the host's ip_forward untouched
  await createNetwork(TEST_ROOT, NAT_NET, { subnet: '10.213.92.0/24', nat: true, hostForwarding: false });
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { stdio: 'inherit' });
  sh(
    `ip netns add ${NS} && ip link add ${VETH}a type veth peer name ${VETH}b && ip link set ${VETH}b netns ${NS} && ` +
      `ip addr add 10.213.93.1/24 dev ${VETH}a && ip link set ${VETH}a up && ip -n ${NS} addr add 10.213.93.2/24 dev ${VETH}b && ` +
      `ip -n ${NS} link set ${VETH}b up && ip -n ${NS} link set lo up`,
  );
  writeFileSync(`/proc/sys/net/ipv4/conf/${VETH}a/forwarding`, '1');
});
after(async () => {
  spawnSync('ip', ['link', 'del', `${VETH}a`], { stdio: 'ignore' });
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
  for (const n of [PORTS_NET, NAT_NET, CLI_NET]) await removeNetwork(TEST_ROOT, n).catch(() => {});
  rootfs.cleanup();
  assert.doesNotMatch(nftTables(), new RegExp(`execdriver-(nat|port|localnet)-.*(${tag}|rootfsn)`), 'an nftables table of ours left');
});

for (const driverName of ['native', 'lxc'] as const) {
  describe(`networks and ports: ${driverName} driver`, () => {
    let driver: ManagedDriver;
    before(() => {
      driver = createDriver(driverName, { root: TEST_ROOT });
    });
    const sh = (script: string, network: Command['network']): Command & { id: string } => ({
      id: uniqueId(`rootfsn${driverName.slice(0, 1)}`),
      rootfs: rootfs.dir,
      entrypoint: 'sh',
      arguments: ['-c', script],
      network,
    });

    it('-p 127.0.0.1:18080:8080 with nc -l -p 8080 inside: the host connects, the bytes arrive; after exit the rule is gone', async () => {
      const c = sh('nc -l -p 8080', { mode: 'bridge', name: PORTS_NET, ports: [{ hostIp: '127.0.0.1', hostPort: 18080, containerPort: 8080, protocol: 'tcp' }] });
      const cap = capture();
      let dns = '';
      const done = driver.run(c, cap.pipes, () => {
        dns = driver.inspect(c.id).network?.dns ?? '';
      });
      await until(() => nftTables().includes(portTable(`${driverName}/${c.id}`)), 10_000, 'the port table');
      await sendTo(18080, `bytes from the host ${driverName}\n`);
      const status = await done;
      assert.equal(status.exitCode, 0, cap.err());
      assert.equal(cap.out(), `bytes from the host ${driverName}\n`);
      assert.match(dns, /^unreachable: .*no NAT/);
      // route_localnet on the bridge comes with a guard: the host's loopback is not reachable from it
      assert.match(execFileSync('nft', ['list', 'table', 'ip', `execdriver-localnet-${PORTS_NET}`], { encoding: 'utf8' }), new RegExp(`iifname "${PORTS_NET}" ip daddr 127\\.0\\.0\\.0/8 drop`));
      assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${PORTS_NET}/route_localnet`, 'utf8').trim(), '1');
      assert.doesNotMatch(nftTables(), new RegExp(portTable(`${driverName}/${c.id}`)), 'the rule is gone after exit');
    });

    it('--nat: the container reaches a server in a test namespace routed only through the host (masqueraded)', async () => {
      // the server's stdin stays open: busybox nc half-closes when its stdin ends, and a client that
      // saw that FIN before its echo reached the pipe would exit 0 having sent nothing
      const server = spawn('ip', ['netns', 'exec', NS, 'busybox', 'nc', '-l', '-p', '9000'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let got = '';
      let serverErr = '';
      server.stdout.on('data', (d: Buffer) => (got += d.toString()));
      server.stderr.on('data', (d: Buffer) => (serverErr += d.toString()));
      let serverExit = 'running';
      server.on('exit', (code, signal) => (serverExit = `exited ${code ?? signal}`));
      try {
        await until(() => spawnSync('ip', ['netns', 'exec', NS, 'ss', '-Hltn', 'sport = :9000'], { encoding: 'utf8' }).stdout.trim() !== '', 5000, 'the server to listen');
        const cap = capture();
        const s = await driver.run(sh(`echo through-nat-${driverName} | nc -w 3 10.213.93.2 9000`, { mode: 'bridge', name: NAT_NET }), cap.pipes);
        assert.equal(s.exitCode, 0, cap.err());
        await until(() => got.includes(`through-nat-${driverName}`), 5000, 'the bytes at the server').catch((e: Error) => {
          throw new Error(`${e.message} (server ${serverExit}, its stdout ${JSON.stringify(got)}, stderr ${JSON.stringify(serverErr)}; the container's stdout ${JSON.stringify(cap.out())}, stderr ${JSON.stringify(cap.err())})`);
        });
      } finally {
        server.kill();
      }
    });

    it('network rm is refused while a container uses it; -p and --net errors are one line, 125, nothing created', async () => {
      const id = uniqueId(`rootfsn${driverName.slice(0, 1)}`);
      const r = cli('run', '--driver', driverName, '-d', '--id', id, '--net', PORTS_NET, '-p', '18081:80', '--rootfs', rootfs.dir, 'sleep', '100');
      assert.equal(r.status, 0, r.stderr);
      try {
        const port = cli('port', id);
        assert.equal(port.stdout, '80/tcp -> 0.0.0.0:18081\n');
        const rm = cli('network', 'rm', PORTS_NET);
        assert.notEqual(rm.status, 0);
        assert.equal(rm.stderr.trim().split('\n').length, 1);
        assert.match(rm.stderr, new RegExp(`network ${PORTS_NET} is in use by 1 container\\(s\\): ${id}`));
      } finally {
        cli('delete', '--force', id);
      }
      assert.doesNotMatch(nftTables(), new RegExp(portTable(`${driverName}/${id}`)), 'the rule is gone with the container');
      for (const [args, re] of [
        [['-p', '99999:1'], /-p 99999:1: host port "99999" is not 1-65535/],
        [['-p', '80:80/sctp'], /protocol "sctp" is not tcp or udp/],
        [['--net', 'edt-rootfsnone'], /network edt-rootfsnone does not exist/],
        [['--net', 'none', '-p', '8080:80'], /-p needs a bridge network/],
      ] as const) {
        const bid = uniqueId('rootfsbad');
        const b = cli('run', '--driver', driverName, '--id', bid, ...args, '--rootfs', rootfs.dir, 'true');
        assert.equal(b.status, 125, `${args.join(' ')}: ${b.stderr}`);
        assert.equal(b.stderr.trim().split('\n').length, 1, b.stderr);
        assert.match(b.stderr, re);
        assert.equal(existsSync(`${TEST_ROOT}/${driverName}/${bid}`), false, 'nothing created');
      }
    });
  });
}

describe('network create / ls / inspect / rm (command line)', () => {
  it('creates, lists, inspects and removes; bad input is one line, 125, nothing created', () => {
    // the command line's --nat turns the host's ip_forward on (as Docker does): put back as it was
    const forward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    after(() => writeFileSync('/proc/sys/net/ipv4/ip_forward', forward));
    const c = cli('network', 'create', '--subnet', '10.213.94.0/24', '--gateway', '10.213.94.254', '--mtu', '1400', '--nat', CLI_NET);
    assert.equal(c.status, 0, c.stderr);
    try {
      assert.match(cli('network', 'ls').stdout, new RegExp(`^${CLI_NET}\\s+10\\.213\\.94\\.0/24\\s+10\\.213\\.94\\.254\\s+yes$`, 'm'));
      const info = JSON.parse(cli('network', 'inspect', CLI_NET).stdout) as { subnet: string; gateway: string; mtu: number; nat: boolean; containers: string[] }[];
      assert.deepEqual([info[0]!.subnet, info[0]!.gateway, info[0]!.mtu, info[0]!.nat, info[0]!.containers], ['10.213.94.0/24', '10.213.94.254', 1400, true, []]);
      assert.match(readFileSync(`/sys/class/net/${CLI_NET}/mtu`, 'utf8'), /^1400/);
      assert.match(nftTables(), new RegExp(`table ip execdriver-nat-${CLI_NET}\\b`));
      for (const [args, re] of [
        [['--subnet', '10.213.94.128/25', 'edt-rootfsx'], /--subnet 10\.213\.94\.128\/25 overlaps network/],
        [['--subnet', '10.213.95.0/24', '--gateway', '10.213.96.1', 'edt-rootfsx'], /--gateway 10\.213\.96\.1 is not a host address/],
        [['--subnet', '10.213.95.0/24', CLI_NET], /already exists/],
        [['--subnet', '10.213.95.0/24', 'edt-rootfs-name-too-long'], /network name/],
        [['--subnet', '10.213.95.0/24', 'bridge'], /reserved name/],
      ] as const) {
        const b = cli('network', 'create', ...args);
        assert.equal(b.status, 125, `${args.join(' ')}: ${b.stderr}`);
        assert.equal(b.stderr.trim().split('\n').length, 1);
        assert.match(b.stderr, re);
      }
      assert.equal(existsSync('/sys/class/net/edt-rootfsx'), false, 'nothing created');
    } finally {
      const rm = cli('network', 'rm', CLI_NET);
      assert.equal(rm.status, 0, rm.stderr);
    }
    assert.equal(existsSync(`/sys/class/net/${CLI_NET}`), false);
    assert.doesNotMatch(nftTables(), new RegExp(`execdriver-nat-${CLI_NET}\\b`));
    const gone = cli('network', 'rm', CLI_NET);
    assert.equal(gone.status, 125);
    assert.match(gone.stderr, /does not exist/);
  });
});
