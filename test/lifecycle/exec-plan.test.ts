/**
 * The plan of an exec (pure: src/exec/ buildExecPlan), and the C init's checks of the `join` op
 * (no container needed: the monitor refuses a bad plan before it forks).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildExecPlan } from '../../src/exec/index.js';
import { MonitorChannel } from '../../src/init/monitor.js';
import type { Op } from '../../src/init/protocol.js';

const base = {
  initPid: 4242,
  rootless: false,
  userns: false,
  detach: false,
  user: { uid: 0, gid: 0, groups: [] },
  kept: ['CHOWN', 'KILL', 'SETUID', 'SETGID'],
  ambient: [],
  noNewPrivileges: false,
  filter: 'ff'.repeat(8),
  cwd: '/srv',
  env: ['PATH=/bin', 'HOME=/root'],
  args: ['sh', '-c', 'true'],
};
const names = (ops: Op[]): string[] => ops.map((o) => o[0]);

describe('exec plan', () => {
  it('joins first, in host mode (no clone); the container\'s last steps in order; exec last', () => {
    const ops = buildExecPlan(base);
    assert.deepEqual(ops[0], ['join', '4242', '']);
    assert.ok(!names(ops).includes('clone'));
    const at = (n: string) => names(ops).indexOf(n);
    for (const [a, b] of [['join', 'session-keyring'], ['bounding', 'seccomp-filter'], ['closefds', 'seccomp-filter'], ['seccomp-filter', 'user'], ['user', 'caps'], ['caps', 'pdeathsig'], ['chdir', 'exec']]) {
      assert.ok(at(a!) >= 0 && at(a!) < at(b!), `${a} before ${b}: ${names(ops).join(' ')}`);
    }
    assert.deepEqual(ops.at(-1), ['exec', '/bin', 'sh', '-c', 'true']);
    assert.deepEqual(ops.find((o) => o[0] === 'chdir'), ['chdir', '/srv']);
    assert.deepEqual(ops.find((o) => o[0] === 'bounding'), ['bounding', '0xe1']);
    assert.ok(!names(ops).includes('detach') && !names(ops).includes('tty') && !names(ops).includes('exit-file'));
  });

  it('detached: its exit file and log relay; tty: a terminal of the container\'s devpts, owned by the user', () => {
    const d = buildExecPlan({ ...base, detach: true, exitFile: '/x/exit.json' });
    for (const n of ['detach', 'log-relay', 'exit-file']) assert.ok(names(d).includes(n), n);
    const t = buildExecPlan({ ...base, tty: { rows: 30, cols: 100 }, user: { uid: 1000, gid: 1000, groups: [] } });
    assert.deepEqual(t.find((o) => o[0] === 'tty'), ['tty', '30', '100']);
    assert.deepEqual(t.find((o) => o[0] === 'console'), ['console', 'dev/pts/ptmx', '']);
    assert.deepEqual(t.find((o) => o[0] === 'chown'), ['chown', '/proc/self/fd/0', '1000', '1000']);
    assert.ok(!names(t).includes('log-relay'));
  });

  it('a console socket (OCI exec --console-socket): the monitor sends the master there, leaves; nothing without tty', () => {
    const c = buildExecPlan({ ...base, detach: true, leave: true, tty: { rows: 33, cols: 101 }, consoleSocket: '/run/x/console.sock' });
    assert.deepEqual(c.find((o) => o[0] === 'console-socket'), ['console-socket', '/run/x/console.sock']);
    assert.ok(names(c).indexOf('tty') < names(c).indexOf('console-socket') && names(c).indexOf('console-socket') < names(c).indexOf('console'));
    for (const n of ['leave', 'console']) assert.ok(names(c).includes(n), n);
    for (const n of ['log-relay', 'pdeathsig']) assert.ok(!names(c).includes(n), n);
    assert.ok(!names(buildExecPlan({ ...base, consoleSocket: '/run/x/console.sock' })).includes('console-socket'));
  });

  it('a user namespace: root of it first; rootless: the monitor joins it first', () => {
    const u = buildExecPlan({ ...base, userns: true, tty: { rows: 1, cols: 1 } });
    assert.ok(names(u).indexOf('user') < names(u).indexOf('console'));
    assert.deepEqual(u[0], ['join', '4242', '']);
    assert.deepEqual(buildExecPlan({ ...base, userns: true, rootless: true })[0], ['join', '4242', 'userns-first']);
  });

  it('the event log: the exec\'s monitor records exec_start and exec_die (event-log with the execId, no oom-watch)', () => {
    const ops = buildExecPlan({ ...base, eventLog: { root: '/r', driver: 'native', id: 'c1', execId: 'e1' } });
    assert.deepEqual(ops.filter((o) => o[0] === 'event-log'), [['event-log', '/r/events.log', String(4 * 1024 * 1024), 'native', 'c1', 'e1']]);
    assert.ok(names(ops).indexOf('event-log') < names(ops).indexOf('exec'));
    assert.ok(!names(ops).includes('oom-watch') && !names(ops).includes('lxc-log'));
    assert.ok(!names(buildExecPlan(base)).includes('event-log'));
  });

  it('no filter and no-new-privileges: as run does', () => {
    const ops = buildExecPlan({ ...base, filter: undefined as unknown as string, noNewPrivileges: true });
    assert.ok(!names(ops).includes('seccomp-filter'));
    assert.ok(names(ops).includes('no-new-privs'));
  });

  it('the C init refuses join with clone, a bad pid, a bad mode, join twice (plan#I, before any fork)', async () => {
    const exec: Op = ['exec', '/bin', 'true'];
    for (const [plan, re] of [
      [[['clone', String(0x20000)], ['join', '1', ''], exec], /join and clone exclude each other/],
      [[['join', '0', ''], exec], /invalid join/],
      [[['join', 'x', ''], exec], /invalid join/],
      [[['join', '1', 'sideways'], exec], /invalid join/],
      [[['join', '1', ''], ['join', '1', ''], exec], /join more than once/],
    ] as [Op[], RegExp][]) {
      const m = MonitorChannel.spawn(['ignore', 'ignore', 'ignore'], 'plan-test');
      m.sendPlan(plan);
      const f = await m.next();
      await m.closed();
      assert.equal(f?.[0], 'error', JSON.stringify(plan));
      assert.match(f![1]!, /^plan#\d+$/);
      assert.match(f![4]!, re);
      assert.equal(m.child.exitCode, 2);
    }
  });

  it('the C init: join of a process that does not exist is join#0 (ESRCH/ENOENT), no pid', async () => {
    const m = MonitorChannel.spawn(['ignore', 'ignore', 'ignore'], 'plan-test');
    m.sendPlan([['join', '999999999', ''], ['exec', '/bin', 'true']]);
    const f = await m.next();
    await m.closed();
    assert.equal(f?.[0], 'error');
    assert.equal(f![1], 'join#0');
    assert.match(f![4]!, /open the namespaces of process 999999999/);
    assert.equal(m.child.exitCode, 1);
  });
});
