/**
 * execdriver-oci's native front (native/ocifront.c): for each light verb (state, start, kill,
 * pause, resume) and each situation (created, running, paused, stopped, a crashed container whose
 * record is stale, an unknown id, bad flags), what bin/execdriver-oci prints, its exit status and
 * its --log lines are those of the Node path (EXECDRIVER_OCI_NO_FRONT=1); the front serves the
 * plain cases itself (EXECDRIVER_OCI_FRONT_TRACE says which) and hands every other one to Node.
 * What it writes (start: the record; pause/resume: the freezer, the event log) is what Node writes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until } from '../helpers.js';
import { makeBundle, OCI, OCI_ROOT, type Bundle } from './bundle.js';

const REPO = new URL('../../../', import.meta.url).pathname;
const FRONT = join(REPO, 'native/execdriver-oci-front');
const scratch = mkdtempSync(join(tmpdir(), 'ocifront-'));
const TRACE = join(scratch, 'trace');

interface Out {
  status: number | null;
  stdout: string;
  stderr: string;
  /** the front's trace line: `front VERB` or `node: WHY` ('' on the Node path) */
  trace: string;
  /** the --log lines, their times replaced by T */
  log: string[];
}

let n = 0;
/** One call of bin/execdriver-oci (through the front unless `node`), with --debug and a JSON --log unless `plain`. */
function call(args: string[], o: { node?: boolean; plain?: boolean; bin?: string } = {}): Out {
  const tag = `${process.pid}-${n++}`;
  const [outF, errF, logF] = ['out', 'err', 'log'].map((x) => join(scratch, `${x}-${tag}`)) as [string, string, string];
  const [fo, fe] = [openSync(outF, 'w+'), openSync(errF, 'w+')];
  rmSync(TRACE, { force: true });
  const env: NodeJS.ProcessEnv = { ...process.env, EXECDRIVER_OCI_FRONT_TRACE: TRACE };
  if (o.node) env['EXECDRIVER_OCI_NO_FRONT'] = '1';
  const g = ['--root', OCI_ROOT, ...(o.plain ? [] : ['--debug', '--log', logF, '--log-format', 'json'])];
  try {
    const r = spawnSync(o.bin ?? OCI, [...g, ...args], { env, timeout: 60_000, stdio: ['ignore', fo, fe] });
    const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
    const log = read(logF).split('\n').filter(Boolean).map((l) => l.replace(/"time":"[^"]+"/, '"time":"T"').replace(/^time="[^"]+"/, 'time="T"'));
    const trace = read(TRACE).trim();
    return { status: r.status, stdout: read(outF), stderr: read(errF), trace: o.node ? (assert.equal(trace, '', 'the Node path does not go through the front'), '') : trace, log };
  } finally {
    closeSync(fo);
    closeSync(fe);
    for (const f of [outF, errF, logF]) rmSync(f, { force: true });
  }
}

/** The same call through the front and through Node: the same output, status and log; the front's trace. */
function same(args: string[], swap?: (s: string) => string): { front: Out; node: Out } {
  const front = call(args);
  const node = call(args, { node: true });
  const f = swap ?? ((s: string) => s);
  assert.equal(front.status, node.status, `exit status of ${args.join(' ')}: ${front.stderr} / ${node.stderr}`);
  assert.equal(front.stdout, node.stdout, `stdout of ${args.join(' ')}`);
  assert.equal(front.stderr, node.stderr, `stderr of ${args.join(' ')}`);
  assert.deepEqual(front.log, node.log.map(f), `--log of ${args.join(' ')}`);
  return { front, node };
}

const ok = (r: Out, what: string) => assert.equal(r.status, 0, `${what}: ${r.stderr}`);
const stateOf = (id: string) => JSON.parse(call(['state', id], { node: true, plain: true }).stdout) as { status: string; pid: number };
const record = (id: string) => readFileSync(join(OCI_ROOT, 'native', id, 'state.json'), 'utf8');
const events = () => {
  try {
    return readFileSync(join(OCI_ROOT, 'events.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
};

describe('execdriver-oci native front', { skip: existsSync(FRONT) ? false : 'native/execdriver-oci-front is not built' }, () => {
  let b: Bundle;
  const ids: string[] = [];
  const create = (id: string, bundle = b) => {
    ids.push(id);
    ok(call(['create', '--bundle', bundle.dir, id], { plain: true }), `create ${id}`);
  };
  before(() => {
    // TERM ends it (a pid 1 ignores a signal it does not handle); USR1 leaves a mark
    b = makeBundle('trap "exit 3" TERM; trap "touch /usr1" USR1; while :; do sleep 0.05; done');
  });
  after(() => {
    for (const id of ids) call(['delete', '--force', id], { node: true, plain: true });
    b.cleanup();
    rmSync(OCI_ROOT, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  it('state: created, running, paused and stopped as Node prints them; a stale record is Node\'s', async () => {
    const id = 'ocifront-state';
    create(id);
    let r = same(['state', id]);
    assert.equal(r.front.trace, 'front state');
    assert.equal(JSON.parse(r.front.stdout).status, 'created');
    ok(call(['start', id], { node: true }), 'start');
    r = same(['state', id]);
    assert.equal(r.front.trace, 'front state');
    assert.equal(JSON.parse(r.front.stdout).status, 'running');
    ok(call(['pause', id], { node: true }), 'pause');
    r = same(['state', id]);
    assert.equal(r.front.trace, 'front state');
    assert.equal(JSON.parse(r.front.stdout).status, 'paused');
    ok(call(['resume', id], { node: true }), 'resume');
    // the plain output (no --log), and the default text log format
    const plain = call(['state', id], { plain: true });
    assert.equal(plain.stdout, call(['state', id], { plain: true, node: true }).stdout);
    const text = same(['--log-format', 'text', 'state', id]); // the last --log-format counts
    assert.match(text.front.log[0] ?? '', /^time="T" level=debug msg="state ocifront-state"$/);
    // a crash: the init killed behind the runtime's back, the record still says running
    const pid = stateOf(id).pid;
    process.kill(pid, 'SIGKILL');
    await until(() => stateOf(id).status === 'stopped', 5000, 'stopped');
    r = same(['state', id]);
    assert.match(r.front.trace, /^node: state: the init is gone/);
    assert.equal(JSON.parse(r.front.stdout).pid, 0);
  });

  it('state of a container stopped with its exit recorded (run --keep: the monitor stayed)', () => {
    const id = 'ocifront-exited';
    ids.push(id);
    const quick = makeBundle('exit 0');
    try {
      ok(call(['run', '--keep', '--bundle', quick.dir, id], { plain: true }), 'run --keep');
      assert.ok(existsSync(join(OCI_ROOT, 'native', id, 'exit.json')), 'the exit is recorded');
      const r = same(['state', id]);
      assert.equal(r.front.trace, 'front state');
      assert.deepEqual([JSON.parse(r.front.stdout).status, JSON.parse(r.front.stdout).pid], ['stopped', 0]);
      const k = same(['kill', id, 'KILL']);
      assert.equal(k.front.status, 1, 'kill of a stopped container fails');
      assert.match(k.front.trace, /^node: kill: /);
    } finally {
      call(['delete', '--force', id], { node: true, plain: true });
      quick.cleanup();
    }
  });

  it('state with annotations', () => {
    const annotated = makeBundle('exec sleep 600');
    try {
      annotated.config['annotations'] = { 'org.example/a': 'one "quoted" \\ value', b: '', '42': 'number-like key' };
      annotated.write();
      const id = 'ocifront-annot';
      create(id, annotated);
      const r = same(['state', id]);
      assert.equal(r.front.trace, 'front state');
      assert.deepEqual(JSON.parse(r.front.stdout).annotations, annotated.config['annotations']);
    } finally {
      call(['delete', '--force', 'ocifront-annot'], { node: true, plain: true });
      annotated.cleanup();
    }
  });

  it('start: the record TypeScript would write, the process released; hooks and errors are Node\'s', () => {
    const [a, c] = ['ocifront-start-a', 'ocifront-start-c'];
    create(a);
    create(c);
    const before = [record(a), record(c)];
    const t0 = new Date().toISOString();
    const fr = call(['start', a]);
    const nr = call(['start', c], { node: true });
    const t1 = new Date().toISOString();
    assert.equal(fr.trace, 'front start');
    assert.deepEqual([fr.status, fr.stdout, fr.stderr], [0, nr.stdout, nr.stderr], nr.stderr);
    assert.deepEqual(fr.log, nr.log.map((l) => l.replace(c, a)));
    for (const [i, id] of [a, c].entries()) {
      const text = record(id);
      const [was, now] = [JSON.parse(before[i]!), JSON.parse(text)];
      assert.equal(text, JSON.stringify(now, null, 2) + '\n', 'written as JSON.stringify(rec, null, 2)');
      assert.equal(now.status, 'running');
      assert.ok(now.startedAt >= t0 && now.startedAt <= t1, `startedAt ${now.startedAt}`);
      assert.deepEqual({ ...now, status: 0, startedAt: 0 }, { ...was, status: 0, startedAt: 0 }, 'nothing else changed');
      assert.ok(!existsSync(join(OCI_ROOT, 'native', id, 'exec.fifo')), 'the fifo is gone');
      assert.equal(stateOf(id).status, 'running');
    }
    assert.deepEqual(Object.keys(JSON.parse(record(a))), Object.keys(JSON.parse(record(c))));
    const again = same(['start', a]);
    assert.equal(again.front.status, 1);
    assert.match(again.front.trace, /^node: start: /);
    // poststart hooks: Node runs them
    const hooked = makeBundle('exec sleep 600');
    const mark = join(scratch, 'poststart');
    try {
      hooked.config['hooks'] = { poststart: [{ path: '/bin/sh', args: ['sh', '-c', `cat > ${mark}`] }] };
      hooked.write();
      const h = 'ocifront-hook';
      create(h, hooked);
      const r = call(['start', h]);
      ok(r, 'start with a poststart hook');
      assert.equal(r.trace, 'node: start: poststart hooks to run');
      assert.equal(JSON.parse(readFileSync(mark, 'utf8')).status, 'running');
    } finally {
      call(['delete', '--force', 'ocifront-hook'], { node: true, plain: true });
      hooked.cleanup();
    }
  });

  it('start: when the front took the fifo\'s byte but could not write the record, Node finishes (EXECDRIVER_OCI_FRONT_RELEASED)', async () => {
    const id = 'ocifront-released';
    create(id);
    const fifo = join(OCI_ROOT, 'native', id, 'exec.fifo');
    const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const buf = Buffer.alloc(1);
      await until(() => {
        try {
          return readSync(fd, buf, 0, 1, null) === 1;
        } catch {
          return false; // EAGAIN
        }
      }, 5000, 'the fifo\'s byte');
    } finally {
      closeSync(fd);
    }
    rmSync(fifo);
    const r = spawnSync(OCI, ['--root', OCI_ROOT, 'start', id], { env: { ...process.env, EXECDRIVER_OCI_FRONT_RELEASED: '1', EXECDRIVER_OCI_NO_FRONT: '1' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(record(id)).status, 'running');
    assert.equal(stateOf(id).status, 'running');
  });

  it('kill: a name, SIG name, number or none; errors are Node\'s', async () => {
    const [a, c] = ['ocifront-kill-a', 'ocifront-kill-c'];
    create(a);
    create(c);
    ok(call(['start', a], { node: true }), 'start');
    ok(call(['start', c], { node: true }), 'start');
    const fr = call(['kill', a, 'usr1']);
    const nr = call(['kill', c, 'usr1'], { node: true });
    assert.equal(fr.trace, 'front kill');
    assert.deepEqual([fr.status, fr.stdout, fr.stderr], [nr.status, nr.stdout, nr.stderr]);
    assert.deepEqual(fr.log, nr.log.map((l) => l.replace(c, a)));
    await until(() => existsSync(join(b.rootfs, 'usr1')), 5000, 'SIGUSR1 to land');
    for (const sig of ['FOO', '0', '65', 'SIGFOO', '1x']) {
      const e = same(['kill', a, sig]);
      assert.equal(e.front.status, 1, `kill ${sig}`);
      assert.match(e.front.trace, /^node: kill: /, `kill ${sig}`);
    }
    const term = call(['kill', a]); // TERM by default: it ends
    ok(term, 'kill');
    assert.equal(term.trace, 'front kill');
    await until(() => stateOf(a).status === 'stopped', 5000, 'TERM to end it');
    const stopped = same(['kill', a, 'KILL']);
    assert.equal(stopped.front.status, 1);
    assert.match(stopped.front.trace, /^node: kill: /);
    for (const sig of ['SIGKILL', '9']) {
      const f2 = call(['kill', c, sig]);
      ok(f2, `kill ${sig}`);
      assert.equal(f2.trace, 'front kill');
      await until(() => stateOf(c).status === 'stopped', 5000, 'KILL to end it');
      break;
    }
    // a created container takes a signal too
    const d = 'ocifront-kill-d';
    create(d);
    const k = call(['kill', d, 'KILL']);
    ok(k, 'kill of a created container');
    assert.equal(k.trace, 'front kill');
    await until(() => stateOf(d).status === 'stopped', 5000, 'KILL to end the created container');
  });

  it('pause and resume: the freezer and the event log as Node leaves them; errors are Node\'s', async () => {
    const [a, c] = ['ocifront-pause-a', 'ocifront-pause-c'];
    create(a);
    create(c);
    const early = same(['pause', a]);
    assert.equal(early.front.status, 1, 'pause of a created container fails');
    ok(call(['start', a], { node: true }), 'start');
    ok(call(['start', c], { node: true }), 'start');
    for (const verb of ['pause', 'resume']) {
      const fr = call([verb, a]);
      const nr = call([verb, c], { node: true });
      assert.equal(fr.trace, `front ${verb}`);
      assert.deepEqual([fr.status, fr.stdout, fr.stderr], [nr.status, nr.stdout, nr.stderr]);
      assert.deepEqual(fr.log, nr.log.map((l) => l.replace(c, a)));
      const want = verb === 'pause' ? 'paused' : 'running';
      assert.equal(stateOf(a).status, want);
      assert.equal(stateOf(c).status, want);
      const ev = events();
      const [ea, ec] = [ev.filter((e) => e['id'] === a).at(-1), ev.filter((e) => e['id'] === c).at(-1)];
      assert.ok(ea && ec, 'both appended an event');
      assert.deepEqual(Object.keys(ea), Object.keys(ec));
      assert.deepEqual({ ...ea, time: 0, id: 0 }, { ...ec, time: 0, id: 0 });
      assert.match(String(ea['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      // twice: the error is Node's
      const twice = same([verb, a]);
      assert.equal(twice.front.status, 1);
      assert.match(twice.front.trace, new RegExp(`^node: ${verb}: `));
    }
    // SIGKILL to a paused container: Node thaws it
    ok(call(['pause', a]), 'pause');
    const k = call(['kill', a, 'KILL']);
    ok(k, 'kill');
    assert.match(k.trace, /^node: kill: SIGKILL to a paused container/);
    await until(() => stateOf(a).status === 'stopped', 5000, 'the paused container to die');
  });

  it('an unknown id, bad flags and other verbs are Node\'s, with the same output', () => {
    for (const args of [
      ['state', 'ocifront-nope'],
      ['start', 'ocifront-nope'],
      ['kill', 'ocifront-nope', 'KILL'],
      ['pause', 'ocifront-nope'],
      ['resume', 'ocifront-nope'],
      ['state'],
      ['state', 'a', 'b'],
      ['state', '--foo', 'x'],
      ['state', 'bad/id'],
      ['kill', '--all', 'ocifront-nope'],
      ['--bogus', 'state', 'x'],
      ['--log-format', 'xml', 'state', 'x'],
      ['frobnicate', 'x'],
      ['list', '-q'],
    ]) {
      const r = same(args);
      assert.match(r.front.trace, /^node: /, args.join(' '));
    }
  });

  it('a record in `creating`, and one of another version, are Node\'s', () => {
    const id = 'ocifront-real';
    create(id);
    const real = JSON.parse(record(id));
    for (const [fake, change] of [['ocifront-creating', { status: 'creating' }], ['ocifront-v2', { version: 2 }]] as const) {
      const dir = join(OCI_ROOT, 'native', fake);
      mkdirSync(dir);
      try {
        writeFileSync(join(dir, 'state.json'), JSON.stringify({ ...real, id: fake, ...change }, null, 2) + '\n');
        const r = same(['state', fake]);
        assert.match(r.front.trace, /^node: state: /);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('the launcher: through a symlink (npm\'s bin), and straight to Node without the front', () => {
    const id = 'ocifront-launch';
    create(id);
    const link = join(scratch, 'bin-link');
    symlinkSync(OCI, link);
    const viaLink = call(['state', id], { bin: link });
    ok(viaLink, 'through the symlink');
    assert.equal(viaLink.trace, 'front state');
    // a package without native/execdriver-oci-front (its build missing)
    const pkg = join(scratch, 'pkg');
    mkdirSync(join(pkg, 'bin'), { recursive: true });
    for (const f of ['execdriver-oci', 'execdriver-oci-node']) copyFileSync(join(REPO, 'bin', f), join(pkg, 'bin', f));
    for (const f of ['dist', 'node_modules', 'package.json']) symlinkSync(join(REPO, f), join(pkg, f));
    const bare = call(['state', id], { bin: join(pkg, 'bin/execdriver-oci') });
    ok(bare, 'without the front');
    assert.equal(bare.trace, '', 'Node ran it');
    assert.equal(bare.stdout, call(['state', id]).stdout);
  });
});
