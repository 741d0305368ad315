import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitAtCommand } from '../../src/cli/args.js';
import { parseSignal } from '../../src/cli/kill.js';
import { commandFromFlags, parseVolume, runVerb } from '../../src/cli/run.js';
import { parseVerbArgs } from '../../src/cli/args.js';

describe('command line parsing', () => {
  it('options stop at -- or at the command', () => {
    assert.deepEqual(splitAtCommand(['--rootfs', 'r', 'sh', '-c', 'x'], runVerb.options), [['--rootfs', 'r'], ['sh', '-c', 'x']]);
    assert.deepEqual(splitAtCommand(['-m', '64m', '--', '-weird'], runVerb.options), [['-m', '64m'], ['-weird']]);
    assert.deepEqual(splitAtCommand(['--privileged', 'true'], runVerb.options), [['--privileged'], ['true']]);
  });
  it('run flags become a Command', () => {
    const { values, positionals } = parseVerbArgs(runVerb, [
      '--rootfs', '/r', '-m', '64m', '--memory-swap', '-1', '--cpu-shares', '512', '-e', 'A=1', '-e', 'B=2',
      '-v', '/h:/c:ro', '--net', 'none', '-u', 'nobody', '--init', '--', 'sh', '-c', 'exit 3',
    ]);
    const c = commandFromFlags(values, positionals);
    assert.equal(c.entrypoint, 'sh');
    assert.deepEqual(c.arguments, ['-c', 'exit 3']);
    assert.deepEqual(c.resources, { memory: 64 * 1024 * 1024, memorySwap: -1, cpuShares: 512 });
    assert.deepEqual(c.env, ['A=1', 'B=2']);
    assert.deepEqual(c.mounts, [{ source: '/h', destination: '/c', writable: false }]);
    assert.equal(c.network?.mode, 'none');
    assert.equal(c.user, 'nobody');
    assert.equal(c.init, true);
    assert.match(c.id ?? '', /^[0-9a-f]{12}$/);
  });
  it('--cgroup2-devices asks for the device program (config.native), next to --lxc-conf', () => {
    const { values, positionals } = parseVerbArgs(runVerb, ['--rootfs', '/r', '--cgroup2-devices', '--lxc-conf', 'lxc.a = b', 'true']);
    assert.deepEqual(commandFromFlags(values, positionals).config, { lxc: ['lxc.a = b'], native: { cgroup2_devices: true } });
    const plain = parseVerbArgs(runVerb, ['--rootfs', '/r', 'true']);
    assert.equal(commandFromFlags(plain.values, plain.positionals).config, undefined);
  });
  it('bad sizes and volumes are named', () => {
    const { values, positionals } = parseVerbArgs(runVerb, ['--rootfs', '/r', '-m', '12q', 'true']);
    assert.throws(() => commandFromFlags(values, positionals), /12q/);
    assert.throws(() => parseVolume('rel:/x'), /absolute host path/);
    assert.throws(() => parseVolume('/a:/b:rx'), /mode "rx"/);
    assert.throws(() => parseVerbArgs(runVerb, ['--nope']), /--nope/);
  });
  it('signals', () => {
    assert.equal(parseSignal('TERM'), 'SIGTERM');
    assert.equal(parseSignal('sigkill'), 'SIGKILL');
    assert.equal(parseSignal('9'), 'SIGKILL');
    assert.equal(parseSignal('40'), 40);
    assert.throws(() => parseSignal('999'), /unknown signal 999/);
    assert.throws(() => parseSignal('BOGUS'), /unknown signal/);
  });
});
