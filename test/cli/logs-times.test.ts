/**
 * Issue 12 (habits): `logs -t`, `--since`, `--until`, on both drivers. The monitor records when
 * each chunk of container.log was written (container.time, `log-times`); `logs` without them stays
 * byte-exact, the records rotate with the log, `-f` follows with them.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, makeRootfs, TEST_ROOT, uniqueId } from '../helpers.js';
import { parseTimeArg, rfc3339Nano } from '../../src/cli/logtimes.js';

const DRIVERS = ['native', 'lxc'] as const;
const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) /;
let rootfs: { dir: string; cleanup: () => void };

const ed = (args: string[]): SpawnSyncReturns<string> => spawnSync(CLI, ['--root', TEST_ROOT, ...args], { encoding: 'utf8', timeout: 60_000 });
const stamped = (out: string) =>
  out.split(/(?<=\n)/).filter(Boolean).map((l) => {
    const m = STAMP.exec(l);
    assert.ok(m, `no timestamp: ${JSON.stringify(l)}`);
    return { at: m[1]!, ns: parseTimeArg(m[1]!, 't'), line: l.slice(m[0].length) };
  });

describe('logs -t, --since, --until (issue 12, habits)', () => {
  before(() => (rootfs = makeRootfs()));
  after(() => rootfs.cleanup());

  it('times: Docker’s forms of --since, and RFC 3339 with nine digits', () => {
    const now = 1_800_000_000_000_000_000n;
    assert.equal(parseTimeArg('10m', 's', now), now - 600_000_000_000n);
    assert.equal(parseTimeArg('1h30m', 's', now), now - 5_400_000_000_000n);
    assert.equal(parseTimeArg('1.5s', 's', now), now - 1_500_000_000n);
    assert.equal(parseTimeArg('1733390000.25', 's'), 1_733_390_000_250_000_000n);
    assert.equal(parseTimeArg('2026-12-05T08:00:00Z', 's'), BigInt(Date.parse('2026-12-05T08:00:00Z')) * 1_000_000n);
    assert.equal(parseTimeArg('2026-12-05T09:00:00.000000123+01:00', 's'), BigInt(Date.parse('2026-12-05T08:00:00Z')) * 1_000_000n + 123n);
    assert.equal(rfc3339Nano(1_733_390_000_000_000_007n), '2024-12-05T09:13:20.000000007Z');
    assert.throws(() => parseTimeArg('yesterday', '--since'), /--since: "yesterday"/);
  });

  for (const driver of DRIVERS) {
    const run = (args: string[], cmd: string[]) => ed(['--driver', driver, 'run', '--net', 'none', '--rootfs', rootfs.dir, ...args, '--', ...cmd]);

    it(`${driver}: -t stamps each line with when it was written; without it the bytes are exact; --since/--until filter`, async () => {
      const id = uniqueId('habt');
      assert.equal(run(['-d', '--name', id], ['sh', '-c', 'echo one; sleep 1; echo two; printf par; sleep 0.3; printf "tial\\n\\0x\\n"; echo err >&2']).status, 0);
      try {
        assert.equal(ed(['wait', id]).stdout, '0\n');
        const plain = ed(['logs', id]);
        // its stdout on ours, its stderr on ours
        assert.deepEqual([plain.stdout, plain.stderr], ['one\ntwo\npartial\n\0x\n', 'err\n']);
        const all = ed(['logs', '-t', id]);
        const t = [...stamped(all.stdout), ...stamped(all.stderr)];
        assert.deepEqual(t.map((l) => l.line), ['one\n', 'two\n', 'partial\n', '\0x\n', 'err\n']);
        for (let i = 1; i < t.length; i++) assert.ok(t[i]!.ns >= t[i - 1]!.ns, 'in order');
        const gap = Number(t[1]!.ns - t[0]!.ns) / 1e6;
        assert.ok(gap > 900 && gap < 5000, `one → two: ${gap} ms`);
        // a line split over two writes has the time of its first byte
        assert.ok(t[3]!.ns - t[2]!.ns > 250_000_000n, 'partial: the time of "par"');
        const since = ed(['logs', '--since', t[1]!.at, id]);
        assert.deepEqual([since.stdout, since.stderr], ['two\npartial\n\0x\n', 'err\n']);
        assert.equal(ed(['logs', '--until', t[0]!.at, id]).stdout, 'one\n');
        const last = ed(['logs', '--since=1h', '--tail', '1', '-t', id]);
        assert.deepEqual([last.stdout, last.stderr], ['', `${t[4]!.at} err\n`]);
        const tail2 = ed(['logs', '--tail', '2', id]);
        assert.deepEqual([tail2.stdout, tail2.stderr], ['\0x\n', 'err\n']);
        assert.equal(ed(['logs', '--since', '2099-01-01', id]).stdout, '');
        const bad = ed(['logs', '--since', 'soon', id]);
        assert.equal(bad.status, 125);
        assert.match(bad.stderr, /^execdriver: --since: "soon" is neither/);
        assert.equal(bad.stderr.trim().split('\n').length, 1);
      } finally {
        ed(['rm', '-f', id]);
      }
    });

    it(`${driver}: a stdout line that stderr wrote into the middle of stays whole, in its stream`, () => {
      const id = uniqueId('habs');
      assert.equal(run(['-d', '--name', id], ['sh', '-c', 'printf par; sleep 0.2; echo e1 >&2; sleep 0.2; echo tial; printf e >&2; sleep 0.2; echo o2; echo 2 >&2']).status, 0);
      try {
        assert.equal(ed(['wait', id]).stdout, '0\n');
        const r = ed(['logs', id]);
        assert.deepEqual([r.stdout, r.stderr], ['partial\no2\n', 'e1\ne2\n']);
        const f = ed(['logs', '-f', '-t', id]);
        assert.deepEqual([stamped(f.stdout).map((l) => l.line), stamped(f.stderr).map((l) => l.line)], [['partial\n', 'o2\n'], ['e1\n', 'e2\n']]);
      } finally {
        ed(['rm', '-f', id]);
      }
    });

    it(`${driver}: the times rotate with container.log (--log-opt), logs -t and logs agree`, () => {
      const id = uniqueId('habr');
      assert.equal(run(['-d', '--name', id, '--log-opt', 'max-size=4096,max-file=3'], ['sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done']).status, 0);
      try {
        assert.equal(ed(['wait', id]).stdout, '0\n');
        const dir = join(TEST_ROOT, driver, id);
        const files = readdirSync(dir).filter((f) => f.startsWith('container.')).sort();
        assert.ok(['container.log.1', 'container.log.2', 'container.time', 'container.time.1', 'container.time.2'].every((f) => files.includes(f)), files.join());
        assert.ok(!existsSync(join(dir, 'container.log.3')));
        const plain = ed(['logs', id]).stdout;
        assert.ok(plain.endsWith('line 1999\n'));
        const t = stamped(ed(['logs', '-t', id]).stdout);
        assert.equal(t.map((l) => l.line).join(''), plain);
        for (let i = 1; i < t.length; i++) assert.ok(t[i]!.ns >= t[i - 1]!.ns, 'in order');
      } finally {
        ed(['rm', '-f', id]);
      }
    });

    it(`${driver}: logs -f -t --since follows with times until the exit`, async () => {
      const id = uniqueId('habf');
      assert.equal(run(['-d', '--name', id], ['sh', '-c', 'echo old; sleep 1.5; for i in 1 2 3; do echo l$i; sleep 0.3; done']).status, 0);
      try {
        await new Promise((r) => setTimeout(r, 1000));
        const follow = spawn(CLI, ['--root', TEST_ROOT, 'logs', '-f', '-t', '--since', '0.5s', id], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        follow.stdout.on('data', (d: Buffer) => (out += d.toString()));
        const code = await new Promise<number | null>((res) => follow.on('close', res));
        assert.equal(code, 0);
        const t = stamped(out);
        assert.deepEqual(t.map((l) => l.line), ['l1\n', 'l2\n', 'l3\n']);
        assert.ok(t[2]!.ns - t[0]!.ns > 400_000_000n);
      } finally {
        ed(['rm', '-f', id]);
      }
    });
  }

  it('native: a -t container has times too', () => {
    const id = uniqueId('habtt');
    assert.equal(ed(['run', '-d', '-t', '--net', 'none', '--rootfs', rootfs.dir, '--name', id, '--', 'sh', '-c', 'echo a; sleep 0.5; echo b']).status, 0);
    try {
      assert.equal(ed(['wait', id]).stdout, '0\n');
      const t = stamped(ed(['logs', '-t', id]).stdout);
      assert.deepEqual(t.map((l) => l.line), ['a\r\n', 'b\r\n']);
      assert.ok(t[1]!.ns - t[0]!.ns > 400_000_000n);
    } finally {
      ed(['rm', '-f', id]);
    }
  });
});
