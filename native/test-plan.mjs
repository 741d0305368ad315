#!/usr/bin/env node
// Manual harness for native/execdriver-init (not part of `npm test`). Run as root, after
// `make -C native`:
//
//   node native/test-plan.mjs              every scenario
//   node native/test-plan.mjs basic init   only these
//   node native/test-plan.mjs --list
//
// It builds a busybox rootfs in /tmp/rfs, encodes plans (PROTOCOL.md), spawns the monitor with
// the control socket on fd 3, decodes its frames and checks them. After every scenario it checks
// that no mount, process or cgroup was left behind.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'execdriver-init');
const RFS = process.env['CTEST_RFS'] ?? '/tmp/rfs';
const CG = process.env['CTEST_CGROUP'] ?? '/sys/fs/cgroup/pids/execdriver-ctest';

const CLONE = { NS: 0x20000, UTS: 0x4000000, IPC: 0x8000000, PID: 0x20000000, NET: 0x40000000, USER: 0x10000000 };
const MS = { RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, REMOUNT: 32, BIND: 4096, REC: 16384, PRIVATE: 1 << 18, STRICTATIME: 1 << 24 };
const seen = new Set(); // every monitor and container pid, for the leak check
const ALL_NS = CLONE.NS | CLONE.UTS | CLONE.IPC | CLONE.PID | CLONE.NET;
const CAPS = fs.readFileSync('/proc/self/status', 'utf8').match(/^CapBnd:\s*(\w+)/m)[1]; // what we have

// ---------------------------------------------------------------- encoding
export function encodeFrame(fields) {
  const bufs = fields.map((f) => Buffer.from(String(f)));
  const out = Buffer.alloc(4 + bufs.reduce((n, b) => n + 4 + b.length, 0));
  let o = out.writeUInt32LE(bufs.length, 0);
  for (const b of bufs) {
    o = out.writeUInt32LE(b.length, o);
    o += b.copy(out, o);
  }
  return out;
}

/** The plan protocol's version (PROTOCOL.md), from the binary itself (`execdriver-init protocol`). */
let version;
export function encodePlan(ops) {
  version ??= execFileSync(BIN, ['protocol'], { encoding: 'utf8' }).split('\n')[0].split(' ')[1];
  return Buffer.concat([['protocol', version], ...ops, ['end']].map(encodeFrame));
}

/** Frames up to ["end"] with no protocol frame (seccomp-compile's input). */
export function encodeFrames(frames) {
  return Buffer.concat([...frames, ['end']].map(encodeFrame));
}

/** Feeds bytes, calls onFrame(fields: string[]) for each complete frame. */
export function frameDecoder(onFrame) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 4) return;
      const n = buf.readUInt32LE(0);
      const fields = [];
      let o = 4;
      for (let i = 0; i < n; i++) {
        if (buf.length < o + 4) return;
        const len = buf.readUInt32LE(o);
        if (buf.length < o + 4 + len) return;
        fields.push(buf.subarray(o + 4, o + 4 + len).toString());
        o += 4 + len;
      }
      buf = buf.subarray(o);
      onFrame(fields);
    }
  };
}

/**
 * Runs a plan. opts: beforeGo(pid) (may be async), afterStart(pid, mon), abort, closeAfterPid,
 * inherit (stdout to the terminal), input (written to fd 0, then EOF) or openStdin (fd 0 a pipe left
 * open: mon.stdin). Resolves { frames, out, code (monitor's), pid }.
 */
export function runPlan(ops, opts = {}) {
  return new Promise((resolve, reject) => {
    const stdin = opts.input !== undefined || opts.openStdin ? 'pipe' : 'ignore';
    const mon = spawn(BIN, ['monitor'], { stdio: [stdin, opts.inherit ? 'inherit' : 'pipe', 'inherit', 'pipe'] });
    if (opts.input !== undefined) mon.stdin.end(opts.input);
    const ctl = mon.stdio[3];
    const frames = [];
    seen.add(mon.pid);
    let out = '';
    let pid = 0;
    mon.stdout?.on('data', (d) => (out += d));
    ctl.on('error', () => {});
    ctl.on('data', frameDecoder(async (f) => {
      frames.push(f);
      try {
        if (f[0] === 'pid') {
          pid = Number(f[1]);
          seen.add(pid);
          if (opts.closeAfterPid) return ctl.destroy();
          if (opts.beforeGo) await opts.beforeGo(pid);
          ctl.write(encodeFrame([opts.abort ? 'abort' : 'go']));
        } else if (f[0] === 'started' && opts.afterStart) {
          await opts.afterStart(pid, mon, ctl);
        }
      } catch (e) {
        reject(e);
      }
    }));
    mon.on('error', reject);
    mon.on('close', (code) => resolve({ frames, out, code, pid }));
    ctl.write(encodePlan(ops));
  });
}

// ---------------------------------------------------------------- plans
function makeRootfs() {
  fs.mkdirSync(`${RFS}/bin`, { recursive: true });
  fs.copyFileSync('/bin/busybox', `${RFS}/bin/busybox`);
  fs.chmodSync(`${RFS}/bin/busybox`, 0o755);
  for (const a of 'sh ls cat echo id hostname mount sleep true grep wc touch env pwd kill stat readlink tty stty cut'.split(' ')) {
    fs.rmSync(`${RFS}/bin/${a}`, { force: true });
    fs.symlinkSync('busybox', `${RFS}/bin/${a}`);
  }
  fs.writeFileSync(`${RFS}/bin/noexec`, '#!/bin/sh\necho no\n', { mode: 0o644 });
  fs.chmodSync(`${RFS}/bin/noexec`, 0o644);
  for (const [name, to] of [['evil', '/../../../../usr'], ['dangling', '/../../tmp/execdriver-outside']]) {
    fs.rmSync(`${RFS}/${name}`, { force: true });
    fs.symlinkSync(to, `${RFS}/${name}`);
  }
  fs.mkdirSync(`${RFS}/usr`, { recursive: true });
}

/** The brief's standard plan; `extra` goes before pivot, `late` after it, then the command. */
function plan({ clone = ALL_NS, pre = [], extra = [], late = [], cmd, monitorOps = [] }) {
  return [
    ['clone', clone],
    ...monitorOps,
    ['root', RFS],
    ...pre,
    ['mount', '', '/', '', MS.REC | MS.PRIVATE, '', ''],
    ['mount', RFS, RFS, '', MS.BIND | MS.REC, '', ''],
    ['mount', 'tmpfs', 'dev', 'tmpfs', MS.NOSUID | MS.STRICTATIME, 'mode=755', 'dir'],
    ['mount', 'proc', 'proc', 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC, '', 'dir'],
    ['mknod', 'dev/null', 'c', '0666', 1, 3],
    ...extra,
    ['pivot'],
    ['sethostname', 'ctest'],
    ['ifup', 'lo'],
    ['bounding', CAPS],
    ['caps', CAPS, CAPS, '0'],
    ['closefds'],
    ['env', 'PATH=/bin'],
    ...late,
    ['exec', '/bin', ...cmd],
  ];
}

const sh = (script) => ['sh', '-c', script];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const alive = (pid) => { try { return !/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; } };
const r0pid = (pid) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]); // ppid
const get = (r, name) => r.frames.find((f) => f[0] === name);
const exitOf = (r) => get(r, 'exit')?.slice(1).map(Number);

function assert(cond, msg, r) {
  if (!cond) throw new Error(`${msg}\n  frames: ${JSON.stringify(r?.frames)}\n  out: ${JSON.stringify(r?.out)}`);
}
function expectExit(r, code, sig = 0) {
  const e = exitOf(r);
  assert(e && e[0] === code && e[1] === sig, `expected exit ${code}/${sig}, got ${e}`, r);
}
function expectError(r, step, errno) {
  const e = get(r, 'error');
  assert(e && e[1] === step && Number(e[2]) === errno, `expected error ${step} errno ${errno}`, r);
  assert(!get(r, 'started'), 'no started after an error', r);
}

// ---------------------------------------------------------------- scenarios
const scenarios = {
  async basic() {
    const r = await runPlan(plan({ cmd: sh('echo $$; hostname; ls /proc/self/fd; id -u') }));
    assert(get(r, 'started'), 'started', r);
    assert(r.out === '1\nctest\n0\n1\n2\n3\n0\n', 'pid 1, hostname, fds 0-3 only', r);
    expectExit(r, 0);
    assert(r.code === 0, 'monitor exits 0', r);
  },
  async exitCode() {
    expectExit(await runPlan(plan({ cmd: sh('exit 3') })), 3);
  },
  async sigkill() {
    const r = await runPlan(plan({ cmd: ['sleep', '100'] }), { afterStart: (pid) => process.kill(pid, 'SIGKILL') });
    expectExit(r, 137, 9);
  },
  async badMount() {
    const r = await runPlan(plan({ extra: [['mount', 'none', 'mnt', 'nosuchfs', 0, '', 'dir']], cmd: ['true'] }));
    expectError(r, 'mount#7', 19);
    assert(get(r, 'error')[4] === `mount none on ${RFS}/mnt` && get(r, 'error')[3] === `${RFS}/mnt`, 'message', r);
    expectExit(r, 1);
    fs.rmdirSync(`${RFS}/mnt`);
  },
  async badPlan() {
    const r = await runPlan([['clone', 0], ['frobnicate'], ['exec', '/bin', 'true']]);
    expectError(r, 'plan#1', 22);
    assert(r.code === 2 && !get(r, 'pid'), 'no child on a bad plan', r);
  },
  async notFound() {
    const r = await runPlan(plan({ cmd: ['nosuchprogram'] }));
    expectError(r, 'exec#14', 2);
    expectExit(r, 127);
  },
  async notExecutable() {
    const r = await runPlan(plan({ cmd: ['noexec'] }));
    expectError(r, 'exec#14', 13);
    assert(get(r, 'error')[3] === '/bin/noexec', 'path of the candidate', r);
    expectExit(r, 126);
    const r2 = await runPlan(plan({ cmd: ['/bin/noexec'] }));
    expectError(r2, 'exec#14', 13);
    fs.writeFileSync(`${RFS}/bin/noshebang`, 'echo no\n', { mode: 0o755 });   // no #!: ENOEXEC, no sh fallback
    const r3 = await runPlan(plan({ cmd: ['noshebang'] }));
    expectError(r3, 'exec#14', 8);
    expectExit(r3, 126);
    fs.rmSync(`${RFS}/bin/noshebang`);
  },
  async pid1IgnoresKill() {
    // without init, sh is pid 1: its own SIGTERM is dropped by the kernel
    expectExit(await runPlan(plan({ cmd: sh('kill -TERM 1; exit 4') })), 4);
  },
  async init() {
    const r = await runPlan(plan({ monitorOps: [['init']], cmd: sh('echo $$; kill -TERM 1; sleep 5; exit 9') }));
    assert(r.out === '2\n', 'command is pid 2', r);
    expectExit(r, 143);
    const r2 = await runPlan(plan({ monitorOps: [['init']], cmd: sh('sleep 0.2 & sleep 0.1 & exit 6') }));
    expectExit(r2, 6);
    const r3 = await runPlan(plan({ monitorOps: [['init']], cmd: ['nosuchprogram'] }));
    expectError(r3, 'exec#15', 2);
    expectExit(r3, 127);
  },
  async signalsForward() {
    const r = await runPlan(plan({ monitorOps: [['init'], ['signals-forward']], cmd: ['sleep', '100'] }), {
      afterStart: async (pid, mon) => { await sleep(100); mon.kill('SIGTERM'); },
    });
    expectExit(r, 143);
    const r2 = await runPlan(plan({ monitorOps: [['signals-forward']], cmd: sh('trap "exit 7" USR1; while :; do sleep 0.05; done') }), {
      afterStart: async (pid, mon) => { await sleep(200); mon.kill('SIGUSR1'); },
    });
    expectExit(r2, 7);
  },
  async abort() {
    const r = await runPlan(plan({ cmd: ['true'] }), { abort: true });
    assert(!get(r, 'started'), 'not started', r);
    expectExit(r, 137, 9);
  },
  async eofKills() {
    let child = 0;
    const r = await runPlan(plan({ cmd: ['sleep', '100'] }), {
      afterStart: async (pid, mon, ctl) => { child = pid; ctl.destroy(); },
    });
    assert(r.code === 0 && !alive(child), 'container killed on EOF', r);
    const r2 = await runPlan(plan({ cmd: ['sleep', '100'] }), { closeAfterPid: true });
    assert(r2.code === 0 && !alive(r2.pid), 'killed on EOF before go', r2);
  },
  async detach() {
    const ef = '/tmp/execdriver-ctest-exit.json';
    fs.rmSync(ef, { force: true });
    let survived = false;
    await runPlan(plan({ monitorOps: [['detach'], ['exit-file', ef]], cmd: sh('sleep 0.5; exit 5') }), {
      afterStart: async (pid, mon, ctl) => { ctl.destroy(); await sleep(200); survived = alive(pid) && alive(mon.pid); },
    });
    assert(survived, 'a detached container outlives the socket');
    for (let i = 0; i < 50 && !fs.existsSync(ef); i++) await sleep(50);
    const j = JSON.parse(fs.readFileSync(ef, 'utf8'));
    assert(j.exitCode === 5 && j.signal === 0 && j.oomKills === -1 && Math.abs(j.finishedAt - Date.now()) < 5000, `exit file ${JSON.stringify(j)}`);
    assert(!fs.existsSync(`${ef}.tmp`), 'no tmp file');
    fs.rmSync(ef);
  },
  async cgroup() {
    fs.mkdirSync(CG, { recursive: true });
    const oom = '/tmp/execdriver-ctest-oom';
    fs.writeFileSync(oom, 'oom_kill_disable 0\nunder_oom 0\noom_kill 4\n');
    // no pid ns: the orphaned sleep survives its parent and must be killed by cleanup-cgroup
    const r = await runPlan(plan({
      clone: CLONE.NS | CLONE.UTS,
      monitorOps: [['cleanup-cgroup', CG], ['oom-counter', oom]],
      cmd: sh('sleep 100 & exit 5'),
    }), { beforeGo: (pid) => fs.writeFileSync(`${CG}/cgroup.procs`, String(pid)) });
    expectExit(r, 5);
    assert(get(r, 'exit')[3] === '4', 'oom kills read', r);
    assert(!fs.existsSync(CG), 'cgroup removed', r);
    fs.rmSync(oom);
  },
  async maskReadonly() {
    const r = await runPlan(plan({
      extra: [
        ['mount', 'sysfs', 'sys', 'sysfs', MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, '', 'dir'],
        ['readonly', 'proc/sys'], ['mask', 'proc/cmdline'], ['mask', 'sys/firmware'],
        ['mask', 'proc/nosuchthing'], ['readonly', 'nosuch/dir'],
      ],
      late: [['mask', 'proc/timer_list']],
      cmd: sh('cat /proc/cmdline | wc -c; ls /sys/firmware | wc -l; cat /proc/timer_list | wc -c; ' +
        'touch /proc/sys/kernel/hostname 2>/dev/null || echo ro; grep " /proc/sys " /proc/self/mountinfo | grep -c "ro,nosuid,nodev,noexec"'),
    }));
    assert(r.out === '0\n0\n0\nro\n1\n', 'masked and read-only', r);
    expectExit(r, 0);
    fs.rmSync(`${RFS}/sys`, { recursive: true });
  },
  async filesInRoot() {
    fs.rmSync('/tmp/execdriver-outside', { recursive: true, force: true });
    const r = await runPlan(plan({
      extra: [
        ['mount', 'tmpfs', 'evil/execdriver-x', 'tmpfs', 0, '', 'dir'],    // evil -> /../../../../usr
        ['symlink', '/proc/self/fd', 'dev/fd'], ['symlink', '/proc/self/fd', 'dev/fd'],
        ['mknod', 'dev/zero', 'c', '0620', 1, 5],                // the exact mode (umask 0)
        ['mount', `${RFS}/bin/busybox`, 'dev/bb', '', MS.BIND, '', 'file'],
        ['mount', 'bin', 'dev/bin2', '', MS.BIND, '', 'dir'],
        ['mount', 'tmpfs', '../../../execdriver-esc', 'tmpfs', 0, '', 'dir'],   // ".." stops at the root
      ],
      late: [['umask', '027'], ['chdir', 'dev'], ['env', 'FOO=bar']],
      cmd: sh('stat -c "%a %F" zero null bb bin2/busybox; readlink fd; pwd; umask; env | grep -v PWD | sort; [ -d /usr/execdriver-x ] && echo inroot'),
    }));
    assert(!fs.existsSync('/usr/execdriver-x'), 'nothing created outside the root', r);
    assert(r.out === '620 character special file\n666 character special file\n' +
      '755 regular file\n755 regular file\n/proc/self/fd\n/dev\n0027\nFOO=bar\nPATH=/bin\nSHLVL=1\ninroot\n', 'files', r);
    expectExit(r, 0);
    fs.rmdirSync(`${RFS}/usr/execdriver-x`);
    assert(!fs.existsSync('/execdriver-esc') && fs.statSync(`${RFS}/execdriver-esc`).mode === 0o40755, 'created in the root', r);
    fs.rmdirSync(`${RFS}/execdriver-esc`);
    // a dangling symlink is not followed to create directories
    const r2 = await runPlan(plan({ extra: [['mount', 'tmpfs', 'dangling/x', 'tmpfs', 0, '', 'dir']], cmd: ['true'] }));
    expectError(r2, 'mount#7', 2);
    assert(!fs.existsSync('/tmp/execdriver-outside') && !fs.existsSync(`${RFS}/tmp`), 'nothing created', r2);
  },
  async userCaps() {
    const r = await runPlan(plan({
      late: [['user', 1000, 1001, '1002,1003'], ['caps', '0', '0', '0'], ['no-new-privs']],
      cmd: sh('id; grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs)" /proc/self/status'),
    }));
    assert(r.out.startsWith(`uid=1000 gid=1001 groups=1002,1003\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t${CAPS}\nNoNewPrivs:\t1\n`), 'user', r);
    const r2 = await runPlan(plan({ late: [['bounding', '0x1'], ['caps', '0x1', '0x1', '0']], cmd: sh('grep -E "^Cap(Eff|Bnd)" /proc/self/status') }));
    assert(r2.out === 'CapEff:\t0000000000000001\nCapBnd:\t0000000000000001\n', 'bounding', r2);
    const r3 = await runPlan(plan({ late: [['caps', '0x2', '0x1', '0']], cmd: ['true'] }));
    expectError(r3, 'caps#14', 1);
  },
  async chrootMove() {
    const r = await runPlan([
      ['clone', ALL_NS], ['root', RFS],
      ['mount', '', '/', '', MS.REC | (1 << 19), '', ''],
      ['mount', RFS, RFS, '', MS.BIND | MS.REC, '', ''],
      ['mount', 'proc', 'proc', 'proc', 0, '', 'dir'],
      ['chroot-move'], ['env', 'PATH=/bin'],
      ['exec', '/bin', 'sh', '-c', 'echo $$; ls /bin/busybox'],
    ]);
    assert(r.out === '1\n/bin/busybox\n', 'chroot-move', r);
    expectExit(r, 0);
  },
  async monitorDies() {
    // killed before go: the child goes with it; after go only a `pdeathsig` op ties them
    let check;
    await runPlan(plan({ cmd: ['true'] }), {
      beforeGo: (pid) => { process.kill(r0pid(pid), 'SIGKILL'); check = sleep(100).then(() => alive(pid)); },
    });
    assert(!(await check), 'the child dies with the monitor before go');
    const r2 = await runPlan(plan({ late: [['pdeathsig', 9]], cmd: ['sleep', '100'] }), {
      afterStart: async (pid, mon) => { mon.kill('SIGKILL'); await sleep(100); assert(!alive(pid), 'pdeathsig'); },
    });
    assert(!get(r2, 'exit'), 'no exit frame from a killed monitor', r2);
  },
  async userns() {
    const r = await runPlan([
      ['clone', ALL_NS | CLONE.USER], ['root', RFS], ['user', 0, 0, ''],  // become the namespace's root first
      ['mount', '', '/', '', MS.REC | MS.PRIVATE, '', ''],
      ['mount', RFS, RFS, '', MS.BIND | MS.REC, '', ''],
      ['mount', 'tmpfs', 'dev', 'tmpfs', MS.NOSUID, 'mode=755', 'dir'],
      ['mount', '/dev/null', 'dev/null', '', MS.BIND, '', 'file'],
      ['mount', 'proc', 'proc', 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC, '', 'dir'],
      ['readonly', 'proc/sys'], ['mask', 'proc/cmdline'],
      ['pivot'], ['sethostname', 'inuserns'], ['env', 'PATH=/bin'],
      ['exec', '/bin', 'sh', '-c', 'id -u; hostname; cat /proc/self/uid_map; cat /proc/cmdline | wc -c'],
    ], {
      beforeGo: (pid) => {
        fs.writeFileSync(`/proc/${pid}/uid_map`, '0 100000 65536');
        fs.writeFileSync(`/proc/${pid}/setgroups`, 'allow');
        fs.writeFileSync(`/proc/${pid}/gid_map`, '0 100000 65536');
      },
    });
    assert(r.out.replace(/ +/g, ' ') === '0\ninuserns\n 0 100000 65536\n0\n', 'user namespace', r);
    expectExit(r, 0);
  },
  async usernsIdmap() {
    // the monitor opens the rootfs idmapped (and /tmp plain) at go; the child attaches both
    const maps = (pid) => {
      fs.writeFileSync(`/proc/${pid}/uid_map`, '0 100000 65536');
      fs.writeFileSync(`/proc/${pid}/gid_map`, '0 100000 65536');
    };
    const ops = (src) => [
      ['clone', ALL_NS | CLONE.USER], ['mount-source', RFS, 'idmap'], ['mount-source', src, ''], ['root', RFS], ['user', 0, 0, ''],
      ['mount', '', '/', '', MS.REC | MS.PRIVATE, '', ''],
      ['move-mount', 1, RFS, ''],
      ['move-mount', 2, 'mnt/plain', 'dir'],
      ['mount', 'proc', 'proc', 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC, '', 'dir'],
      ['pivot'], ['env', 'PATH=/bin'],
      ['exec', '/bin', 'sh', '-c', 'stat -c %u /bin/busybox; stat -c %u /mnt/plain; touch /mnt/idmapped-made && stat -c %u /mnt/idmapped-made'],
    ];
    const r = await runPlan(ops('/tmp'), { beforeGo: maps });
    assert(r.out === '0\n65534\n0\n', 'rootfs idmapped (root-owned inside), /tmp plain (host root is nobody)', r);
    assert(fs.statSync(`${RFS}/mnt/idmapped-made`).uid === 0, 'a file made through the idmapped rootfs is owned by 0 on disk', r);
    fs.rmSync(`${RFS}/mnt`, { recursive: true });
    expectExit(r, 0);
    const missing = await runPlan(ops('/nonexistent-source'), { beforeGo: maps });
    expectError(missing, 'mount-source#2', 2);
    const bad = await runPlan([['clone', ALL_NS | CLONE.USER], ['move-mount', 0, 'x', ''], ['exec', '/bin', 'true']]);
    expectError(bad, 'plan#1', 22);
  },
  async netHelper() {
    // the helper gets fd 3 (EOF when the monitor exits), fd 4 (ready), fds 5-6 the child's namespaces
    const mark = `/tmp/execdriver-nethelper-${process.pid}`;
    const helper = ['net-helper', '/bin/sh', '-c', `readlink /proc/self/fd/5 /proc/self/fd/6 > ${mark}; printf r >&4; exec cat <&3 >/dev/null`];
    const r = await runPlan(plan({ monitorOps: [helper], cmd: sh('readlink /proc/self/ns/net; readlink /proc/self/ns/user') }));
    expectExit(r, 0);
    const seen = fs.readFileSync(mark, 'utf8');
    fs.rmSync(mark);
    assert(seen === r.out, `the helper got the child's net and user namespaces: ${seen}`, r);
    const dead = await runPlan(plan({ monitorOps: [['net-helper', '/bin/false']], cmd: ['true'] }));
    expectError(dead, 'net-helper#1', 10 /* ECHILD */);
    const bad = await runPlan(plan({ monitorOps: [['net-helper', 'relative']], cmd: ['true'] }));
    expectError(bad, 'plan#1', 22);
  },
  async searchPath() {
    // an unreadable dir in SEARCHPATH is skipped, EACCES beats ENOENT, and the first hit wins
    const r = await runPlan(plan({ cmd: ['echo', 'hi'] }).map((op) => (op[0] === 'exec' ? ['exec', '/nope:/bin', 'echo', 'hi'] : op)));
    assert(r.out === 'hi\n', 'search', r);
    const r2 = await runPlan(plan({ cmd: [] }).map((op) => (op[0] === 'exec' ? ['exec', '/bin:/nope', 'noexec'] : op)));
    expectError(r2, 'exec#14', 13);
  },
  async ttyConsole() {
    // the command's fds 0-2 are the terminal, with the plan's size, bound on /dev/console
    const r = await runPlan(plan({
      monitorOps: [['tty', 30, 100]],
      extra: [DEVPTS, ['console', 'dev/pts/ptmx', 'dev/console']],
      cmd: sh('tty; stty size; test -t 0 && test -t 1 && test -t 2 && echo yes; stat -c %t,%T /dev/console /dev/pts/0; ls -1 /dev/pts'),
    }));
    assert(r.out === '/dev/pts/0\r\n30 100\r\nyes\r\n88,0\r\n88,0\r\n0\r\nptmx\r\n', 'console', r);
    expectExit(r, 0);
    // without a pid namespace too (the console's setsid, then the init's process group)
    const r2 = await runPlan(plan({
      clone: CLONE.NS | CLONE.UTS, monitorOps: [['tty', 5, 7], ['init']],
      extra: [DEVPTS, ['console', 'dev/pts/ptmx', '']],
      cmd: sh('stty size; set -- $(cut -d" " -f5,8 /proc/$$/stat); [ "$1" = $$ ] && [ "$2" = $$ ] && echo fg; exit 4'),
    }));
    assert(r2.out === '5 7\r\nfg\r\n', 'console without pid ns, the command in the foreground', r2);
    expectExit(r2, 4);
  },
  async ttyInputResize() {
    // fd 0 of the monitor goes to the terminal; a resize frame reaches `stty size`
    const r = await runPlan(plan({
      monitorOps: [['tty', 24, 80]],
      extra: [DEVPTS, ['console', 'dev/pts/ptmx', 'dev/console']],
      cmd: sh('read line; echo "got $line"; stty size'),
    }), {
      input: 'hello\n',
      afterStart: (pid, mon, ctl) => { ctl.write(encodeFrame(['resize', 50, 132])); },
    });
    assert(/^hello\r\ngot hello\r\n(24 80|50 132)\r\n$/.test(r.out), 'input echoed, read', r);
    const r2 = await runPlan(plan({
      monitorOps: [['tty', 24, 80]],
      extra: [DEVPTS, ['console', 'dev/pts/ptmx', '']],
      cmd: sh('trap "stty size; exit 3" WINCH; while :; do sleep 0.05; done'),
    }), { afterStart: async (pid, mon, ctl) => { await sleep(200); ctl.write(encodeFrame(['resize', 50, 132])); } });
    assert(r2.out === '50 132\r\n', 'SIGWINCH on resize', r2);
    expectExit(r2, 3);
  },
  async ttyBigOutput() {
    // more than the relay buffer, all of it, in order, after the command is gone
    const r = await runPlan(plan({
      monitorOps: [['tty', 24, 80]],
      extra: [DEVPTS, ['console', 'dev/pts/ptmx', '']],
      cmd: sh('i=0; while [ $i -lt 3000 ]; do echo "line $i ................................................"; i=$((i+1)); done'),
    }));
    const lines = r.out.split('\r\n');
    assert(lines.length === 3001 && lines[2999].startsWith('line 2999 ') && lines[1500].startsWith('line 1500 '), `all output (${lines.length} lines)`, { frames: r.frames, out: r.out.slice(-200) });
  },
  async ttyAttach() {
    const sock = '/tmp/execdriver-ctest-attach.sock';
    fs.rmSync(sock, { force: true });
    const ef = '/tmp/execdriver-ctest-exit.json';
    fs.rmSync(ef, { force: true });
    const net = await import('node:net');
    const attach = (frames, wait) => new Promise((resolve, reject) => {
      const c = net.connect(sock);
      let out = '';
      c.on('data', (d) => (out += d));
      c.on('error', reject);
      c.on('close', () => resolve(out));
      c.on('connect', async () => {
        for (const f of frames) c.write(encodeFrame(f));
        if (wait) { await wait(() => out); c.end(); }
      });
    });
    const until = async (get, re) => { for (let i = 0; i < 200 && !re.test(get()); i++) await sleep(25); assert(re.test(get()), `${re} in ${JSON.stringify(get())}`); };
    let first = '', second = '', third = '', sizeOk = false;
    const r = await runPlan(plan({
      monitorOps: [['tty', 24, 80], ['detach'], ['exit-file', ef], ['attach-socket', sock, 1024]],
      extra: [DEVPTS, ['console', 'dev/pts/ptmx', 'dev/console']],
      cmd: sh('echo before; read a; echo "in:$a"; stty size; read b; sleep 0.3; echo "late:$b"; read c; exit 6'),
    }), {
      afterStart: async (pid, mon, ctl) => {
        sizeOk = (fs.statSync(sock).mode & 0o777) === 0o600;
        first = await attach([['attach'], ['resize', 33, 99], ['in', 'one\n']], (o) => until(o, /33 99/));
        await attach([['in', 'two\n']], () => sleep(50));           // not attached: gets nothing, input goes in
        await sleep(600);                                            // "late:two" while nobody is attached
        second = await attach([['attach']], (o) => until(o, /late:two/));
        third = await attach([['attach'], ['in', 'three\n']]);      // stays until the exit closes it
      },
    });
    assert(sizeOk, 'attach socket mode 0600');
    assert(/^before\r\none\r\nin:one\r\n33 99\r\n/.test(first), `first attach: ${JSON.stringify(first)}`, r);
    assert(/^two\r\nlate:two\r\n$/.test(second), `second attach: only what was missed: ${JSON.stringify(second)}`, r);
    assert(third === 'three\r\n', `third attach: ${JSON.stringify(third)}`, r);
    assert(!fs.existsSync(sock), 'socket removed', r);
    for (let i = 0; i < 50 && !fs.existsSync(ef); i++) await sleep(50);
    assert(JSON.parse(fs.readFileSync(ef, 'utf8')).exitCode === 6, 'exit recorded');
    fs.rmSync(ef);
  },
  async ttyBadPlans() {
    const r = await runPlan(plan({ extra: [DEVPTS, ['console', 'dev/pts/ptmx', '']], cmd: ['true'] }));
    expectError(r, 'plan#8', 22);
    const r2 = await runPlan(plan({ monitorOps: [['tty', 24, 'x']], cmd: ['true'] }));
    expectError(r2, 'plan#1', 22);
    const r3 = await runPlan(plan({ monitorOps: [['tty', 1, 1], ['attach-socket', '/nonexistent/dir/s', 10]], cmd: ['true'] }));
    expectError(r3, 'attach-socket#2', 2);
    assert(r3.code === 1 && !get(r3, 'pid'), 'no child', r3);
    const r4 = await runPlan(plan({ monitorOps: [['tty', 1, 1]], extra: [['console', 'dev/nosuch', '']], cmd: ['true'] }));
    expectError(r4, 'console#8', 2);
    expectExit(r4, 1);
    // console-raw-output needs a console op before it
    const r5 = await runPlan([['tty', 1, 1], ['console-raw-output'], ['console', '/dev/ptmx', ''], ['exec', '', '/bin/true']]);
    expectError(r5, 'plan#1', 22);
    assert(r5.code === 2 && !get(r5, 'pid'), 'no child', r5);
  },
  async hostMode() {
    // no clone op: the command runs on the host, a plain child of the monitor; `console /dev/ptmx`
    // gives it a terminal of the host's devpts as its controlling terminal, relayed as usual
    const ef = '/tmp/execdriver-ctest-exit.json';
    fs.rmSync(ef, { force: true });
    const r = await runPlan([
      ['tty', 30, 90], ['exit-file', ef], ['console', '/dev/ptmx', ''], ['closefds'], ['env', 'PATH=/usr/bin:/bin'],
      ['exec', '/usr/bin:/bin', 'sh', '-c', 'tty; stty size; set -- $(cut -d" " -f4-8 /proc/$$/stat); echo "$1 $3 $5 $$"; read x; echo "got $x"; exit 3'],
    ], { openStdin: true, afterStart: async (pid, mon) => { await sleep(200); mon.stdin.write('hi\n'); } });
    const [, tty, size, ids] = r.out.match(/^(\/dev\/pts\/\d+)\r\n(\d+ \d+)\r\n(.*)\r\n/) ?? [];
    assert(tty && size === '30 90', 'a host terminal with the plan size', r);
    const [ppid, sid, tpgid, self] = ids.split(' ').map(Number);
    assert(self === r.pid && sid === self && tpgid === self, 'a session of its own, the terminal its controlling one', r);
    assert(ppid > 1, 'a child of the monitor', r);
    assert(r.out.endsWith('hi\r\ngot hi\r\n'), 'input relayed (echoed by the terminal)', r);
    expectExit(r, 3);
    assert(JSON.parse(fs.readFileSync(ef, 'utf8')).exitCode === 3, 'exit recorded');
    fs.rmSync(ef);
  },
  async seccomp() {
    // seccomp-compile: rules in, a BPF program out; then a container loads it (seccomp-filter) and
    // a denied call gets the rule's errno; a bad program or rule is a clear error
    const { spawnSync } = await import('node:child_process');
    const compile = (ops) => spawnSync(BIN, ['seccomp-compile'], { input: encodeFrames(ops) });
    const c = compile([['seccomp-default', 'allow', 0, 'errno', 1], ['seccomp-arch', 'x86'], ['seccomp-rule', 'errno', 13, 'mkdir'],
      ['seccomp-rule', 'errno', 13, 'mkdirat'], ['seccomp-rule', 'errno', 1, 'personality', '0:ne:0:0'], ['seccomp-rule', 'allow', 0, 'no_such_call']]);
    assert(c.status === 0 && c.stdout.length > 0 && c.stdout.length % 8 === 0, `compiled: ${c.stderr}`);
    const hex = c.stdout.toString('hex');
    const r = await runPlan(plan({ late: [['session-keyring', ''], ['seccomp-filter', hex]], cmd: sh('grep ^Seccomp: /proc/self/status; mkdir /tmp/x 2>&1; echo $?') }));
    assert(/^Seccomp:\s+2\n.*Permission denied\n1\n$/s.test(r.out), 'filtered, mkdir denied with EACCES', r);
    expectExit(r, 0);
    const bad = compile([['seccomp-default', 'allow', 0, 'errno', 1], ['seccomp-rule', 'explode', 0, 'mkdir']]);
    assert(bad.status === 1 && /^seccomp-rule#1\t22\texplode\tunknown seccomp action/.test(bad.stderr.toString()), `bad rule: ${bad.stderr}`);
    const none = compile([['seccomp-arch', 'x86']]);
    assert(none.status === 1 && /seccomp-default must come first/.test(none.stderr.toString()), `no default: ${none.stderr}`);
    const r2 = await runPlan(plan({ late: [['seccomp-filter', 'abc']], cmd: ['true'] }));
    expectError(r2, `seccomp-filter#${plan({ late: [['seccomp-filter', 'abc']], cmd: ['true'] }).findIndex((o) => o[0] === 'seccomp-filter')}`, 22);
  },
  async consoleRawOutput() {
    // output processing locked off: the command's `stty opost onlcr` cannot bring \n → \r\n back
    const r = await runPlan([
      ['tty', 24, 80], ['console', '/dev/ptmx', ''], ['console-raw-output'],
      ['exec', '', '/bin/sh', '-c', 'printf "a\\nb\\n"; stty opost onlcr 2>/dev/null; printf "c\\n"; stty -a | grep -o -- "-opost"'],
    ]);
    assert(r.out === 'a\nb\nc\n-opost\n', 'bytes as written', r);
    expectExit(r, 0);
  },
  async consoleExec() {
    // `execdriver-init console-exec`: a session leader whose fd 0 is a terminal it does not control
    // (what LXC gives a container's pid 1) makes it its controlling terminal, then execs in place
    const { spawnSync } = await import('node:child_process');
    const py = (argv) => spawnSync('python3', ['-c', `
import os, subprocess, sys
m, s = os.openpty()
p = subprocess.Popen(sys.argv[1:], stdin=s, stdout=s, stderr=s, start_new_session=True)
os.close(s)
out = b''
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        d = b''
    if not d:
        break
    out += d
sys.stdout.write(out.decode())
sys.exit(p.wait())`, ...argv], { encoding: 'utf8', timeout: 10_000 });
    const r = py([BIN, 'console-exec', 'sh', '-c', 'set -- $(cut -d" " -f6-8 /proc/$$/stat); [ "$1" = $$ ] && [ "$2" != 0 ] && [ "$3" = $$ ] && echo "ctty $$"; exit 5']);
    assert(r.status === 5 && /^ctty \d+\r\n$/.test(r.stdout), `controlling terminal, the command in place: ${JSON.stringify(r)}`);
    const nf = py([BIN, 'console-exec', 'no-such-program']);
    assert(nf.status === 127 && /no-such-program: not found/.test(nf.stdout), `not found → 127: ${JSON.stringify(nf)}`);
    const notty = spawnSync(BIN, ['console-exec', 'true'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    assert(notty.status === 125 && /controlling terminal/.test(notty.stderr), `no terminal → 125: ${JSON.stringify(notty)}`);
  },
};

const DEVPTS = ['mount', 'devpts', 'dev/pts', 'devpts', MS.NOSUID | MS.NOEXEC, 'newinstance,ptmxmode=0666,mode=0620,gid=5', 'dir'];

// ---------------------------------------------------------------- leak checks
function leaks() {
  const found = [];
  const mi = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(RFS));
  if (mi.length) found.push(`mounts: ${mi.join('; ')}`);
  for (const p of seen) if (alive(p)) found.push(`process ${p}`);
  seen.clear();
  if (fs.existsSync(CG)) found.push(`cgroup ${CG}`);
  return found;
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--list') return console.log(Object.keys(scenarios).join('\n'));
  if (process.getuid() !== 0) throw new Error('run as root');
  makeRootfs();
  let failed = 0;
  for (const name of args.length ? args : Object.keys(scenarios)) {
    const t = Date.now();
    try {
      await scenarios[name]();
      await sleep(50);
      const l = leaks();
      if (l.length) throw new Error(`leaked: ${l.join('\n  ')}`);
      console.log(`ok   ${name} (${Date.now() - t} ms)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e.message}`);
    }
  }
  try { fs.rmdirSync(CG); } catch {}
  console.log(failed ? `${failed} failed` : 'all ok');
  process.exitCode = failed ? 1 : 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
