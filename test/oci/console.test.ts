/**
 * --console-socket: with process.terminal the pty master is sent over the unix socket with
 * SCM_RIGHTS (as runc does, and conmon and containerd's shim expect); the receiver (a small
 * python server here) types into it and reads the container's output from it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rmSync } from 'node:fs';
import { until, uniqueId } from '../helpers.js';
import { makeBundle, oci, OCI_ROOT, type Bundle } from './bundle.js';

const RECV = new URL('../../../test/oci/console-recv.py', import.meta.url).pathname;

describe('execdriver-oci console socket', () => {
  let b: Bundle;
  before(() => {
    b = makeBundle('read line; echo "got $line"; tty; stty size');
    b.config.process.terminal = true;
    b.config.process.consoleSize = { height: 33, width: 101 };
    b.write();
  });
  after(() => {
    b.cleanup();
    rmSync(OCI_ROOT, { recursive: true, force: true });
  });

  it('sends the terminal master; the container reads and writes its terminal', async () => {
    const id = uniqueId('ocitty');
    const sock = join(b.dir, 'console.sock');
    const server = spawn('python3', [RECV, sock, 'hello\n'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    server.stdout.on('data', (d: Buffer) => (text += d.toString()));
    await until(() => text.includes('listening'), 10_000, 'the console socket server');
    const c = oci(['create', '--bundle', b.dir, '--console-socket', sock, id]);
    assert.equal(c.status, 0, c.stderr);
    assert.equal(oci(['start', id]).status, 0);
    await until(() => text.includes('"out"'), 20_000, 'the container output on the master');
    const got = JSON.parse(text.split('\n').find((l) => l.startsWith('{'))!);
    assert.equal(got.isatty, true);
    assert.match(got.out, /got hello/);
    assert.match(got.out, /\/dev\/(pts\/\d+|console)/);
    assert.match(got.out, /33 101/);
    await until(() => JSON.parse(oci(['state', id]).stdout).status === 'stopped', 10_000, 'stopped');
    assert.equal(oci(['delete', id]).status, 0);
  });
});
