/**
 * The event log (src/events/log.ts) and the C monitor's writer (native/events.c), without
 * containers: rotation with concurrent appenders in several processes, the reader's range, the
 * follower fed by another process and across a rotation, the `event-log` op in host mode.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseEventTime } from '../../src/cli/events.js';
import { appendEvent, eventsFile, followEvents, monitorEventOps, readEvents, ROTATED_FILE, type RecordedEvent } from '../../src/events/log.js';
import { MonitorChannel } from '../../src/init/monitor.js';

const LOG_MODULE = new URL('../../src/events/log.js', import.meta.url).pathname;
const dirs: string[] = [];
const tmpRoot = () => {
  const d = mkdtempSync(join(tmpdir(), 'execdriver-events-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A Node process that appends `n` events for `id` (maxBytes as given), as another writer would. */
function appender(root: string, id: string, n: number, maxBytes: number, delayMs = 0): Promise<number | null> {
  const code = `import { appendEvent } from ${JSON.stringify(LOG_MODULE)};
for (let i = 0; i < ${n}; i++) {
  appendEvent(${JSON.stringify(root)}, { type: 'start', driver: 'native', id: ${JSON.stringify(id)}, pid: i }, ${maxBytes});
  if (${delayMs}) await new Promise((r) => setTimeout(r, ${delayMs}));
}`;
  const p = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'inherit' });
  return new Promise((resolve) => p.once('exit', resolve));
}

const lines = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

describe('events: the log', () => {
  it('rotation keeps every line whole with 4 processes appending at once, and bounds the size', async () => {
    const root = tmpRoot();
    const max = 16 * 1024;
    const codes = await Promise.all([0, 1, 2, 3].map((i) => appender(root, `w${i}`, 400, max)));
    assert.deepEqual(codes, [0, 0, 0, 0]);
    const current = lines(eventsFile(root));
    const rotated = lines(join(root, ROTATED_FILE));
    assert.ok(rotated.length > 0, 'it was rotated');
    for (const text of [current, rotated]) {
      assert.ok(text === '' || text.endsWith('\n'));
      for (const l of text.split('\n').slice(0, -1)) {
        const ev = JSON.parse(l) as RecordedEvent; // a torn line would not parse
        assert.equal(ev.type, 'start');
        assert.match(ev.id, /^w[0-3]$/);
      }
    }
    // a line is ~90 bytes: past max by at most what the writers appended while one rotated
    assert.ok(statSync(eventsFile(root)).size <= max + 4 * 200, `current ${statSync(eventsFile(root)).size}`);
    assert.ok(Buffer.byteLength(rotated) <= max + 4 * 200, `rotated ${Buffer.byteLength(rotated)}`);
    // each writer's own lines stay in its order across both files
    for (const w of ['w0', 'w1', 'w2', 'w3']) {
      const pids = readEvents(root).filter((e) => e.id === w).map((e) => e.pid!);
      assert.deepEqual(pids, [...pids].sort((a, b) => a - b));
    }
  });

  it('readEvents: rotated lines first, since and until bound the range', () => {
    const root = tmpRoot();
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    for (let s = 0; s < 10; s++) appendEvent(root, { time: at(s), type: 'create', driver: 'native', id: `c${s}` }, 400);
    const all = readEvents(root);
    assert.ok(lines(join(root, ROTATED_FILE)).length > 0);
    assert.deepEqual(
      all.map((e) => e.id).slice(-3),
      ['c7', 'c8', 'c9'],
    );
    const ids = readEvents(root, { since: at(7), until: new Date(at(8)) }).map((e) => e.id);
    assert.deepEqual(ids, ['c7', 'c8']);
  });

  it('the follower sees what another process appends, across a rotation, and ends on return()', async () => {
    const root = tmpRoot();
    appendEvent(root, { type: 'create', driver: 'native', id: 'before' });
    const it = followEvents(root, { pollMs: 5000 }); // the watch, not the poll, must deliver
    const writer = appender(root, 'other', 60, 2048, 5);
    const seen: number[] = [];
    for await (const ev of it) {
      assert.notEqual(ev.id, 'before', 'only what came after');
      seen.push(ev.pid!);
      if (seen.length === 60) break;
    }
    assert.equal(await writer, 0);
    assert.deepEqual(seen, Array.from({ length: 60 }, (_, i) => i));
    assert.ok(lines(join(root, ROTATED_FILE)).length > 0, 'rotated meanwhile');
    assert.deepEqual(await it.next(), { done: true, value: undefined });
  });

  it('the follower: since replays, until ends it, an abort ends it', async () => {
    const root = tmpRoot();
    appendEvent(root, { type: 'create', driver: 'lxc', id: 'old' });
    const t = Date.now();
    const got: string[] = [];
    for await (const ev of followEvents(root, { since: t - 60_000, until: t + 300 })) got.push(ev.id);
    assert.deepEqual(got, ['old']);
    const ac = new AbortController();
    const f = followEvents(root, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    assert.deepEqual(await f.next(), { done: true, value: undefined });
  });

  it('--since/--until times: ISO, unix seconds, durations back from now; anything else refused', () => {
    const now = Date.UTC(2026, 11, 5, 12, 0, 0);
    assert.equal(parseEventTime('10m', '--since', now), now - 600_000);
    assert.equal(parseEventTime('1h30m', '--since', now), now - 5_400_000);
    assert.equal(parseEventTime('1796452000', '--since', now), 1796452000_000);
    assert.equal(parseEventTime('1796452000.5', '--since', now), 1796452000_500);
    assert.equal(parseEventTime('2026-12-05T11:00:00Z', '--since', now), now - 3_600_000);
    assert.throws(() => parseEventTime('yesterday', '--since', now), /--since "yesterday": not a time/);
    assert.throws(() => parseEventTime('10x', '--until', now), /not a time/);
  });
});

describe('events: the C monitor writes its own records (event-log op, host mode)', () => {
  /** Run `sh -c SCRIPT` on the host under the monitor with an event-log op; its exit frame. */
  async function underMonitor(root: string, script: string, extra: { execId?: string; maxBytes?: number } = {}): Promise<string[] | undefined> {
    const m = MonitorChannel.spawn(['ignore', 'ignore', 'ignore'], 'evtest');
    m.sendPlan([...monitorEventOps({ root, driver: 'native', id: 'evtest', ...extra }), ['exec', '', '/bin/sh', '-c', script]]);
    const pid = await m.next();
    assert.equal(pid?.[0], 'pid');
    m.send('go');
    let f: string[] | undefined;
    do f = await m.next();
    while (f && f[0] !== 'exit');
    await m.closed();
    return f;
  }

  it('start, then die with the exit code; a signal death is 128+n and the name; exec_die with an execId', async () => {
    const root = tmpRoot();
    await underMonitor(root, 'exit 7');
    await underMonitor(root, 'kill -KILL $$');
    await underMonitor(root, 'exit 3', { execId: 'e1' });
    const evs = readEvents(root).map(({ time, pid, ...rest }) => (assert.ok(Date.parse(time) > 0 && pid! > 0), rest));
    assert.deepEqual(evs, [
      { type: 'start', driver: 'native', id: 'evtest' },
      { type: 'die', driver: 'native', id: 'evtest', exitCode: 7 },
      { type: 'start', driver: 'native', id: 'evtest' },
      { type: 'die', driver: 'native', id: 'evtest', exitCode: 137, signal: 'SIGKILL' },
      { type: 'exec_start', driver: 'native', id: 'evtest', execId: 'e1' },
      { type: 'exec_die', driver: 'native', id: 'evtest', execId: 'e1', exitCode: 3 },
    ]);
  });

  it('the C writer rotates as the Node one does, lines whole, alongside Node appenders', async () => {
    const root = tmpRoot();
    const node = appender(root, 'node', 300, 4096, 1);
    for (let i = 0; i < 15; i++) await underMonitor(root, `exit ${i}`, { maxBytes: 4096 });
    assert.equal(await node, 0);
    assert.ok(lines(join(root, ROTATED_FILE)).length > 0);
    for (const text of [lines(eventsFile(root)), lines(join(root, ROTATED_FILE))]) {
      for (const l of text.split('\n').slice(0, -1)) JSON.parse(l);
    }
    assert.ok(statSync(eventsFile(root)).size <= 4096 + 1024);
  });

  it('a bad event-log op is a plan error', async () => {
    const m = MonitorChannel.spawn(['ignore', 'ignore', 'ignore'], 'evtest');
    m.sendPlan([['event-log', 'relative/events.log', '10', 'native', 'x', ''], ['exec', '', '/bin/true']]);
    const f = await m.next();
    assert.equal(f?.[0], 'error');
    assert.equal(f?.[1], 'plan#0');
    assert.match(f?.[4] ?? '', /absolute PATH/);
    await m.closed();
  });
});
