/**
 * lxc-info output and LXC's log (pure parsers), with text as LXC 5.0.2 prints it here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOomKills } from '../../src/lxc/cgroup.js';
import { parseLxcInfo } from '../../src/lxc/info.js';
import { parseLxcLog, startFailureMessage } from '../../src/lxc/log.js';

describe('lxc-info parser', () => {
  it('full output: keys lower-cased, state and pid parsed', () => {
    const info = parseLxcInfo(
      'Name:           t2\nState:          RUNNING\nPID:            50\nCPU use:        0.01 seconds\nBlkIO use:      0 bytes\nMemory use:     488.00 KiB\nKMem use:       120.00 KiB\n',
    );
    assert.equal(info.state, 'RUNNING');
    assert.equal(info.pid, 50);
    assert.equal(info.running, true);
    assert.equal(info.fields['name'], 't2');
    assert.equal(info.fields['cpu use'], '0.01 seconds');
    assert.equal(info.fields['memory use'], '488.00 KiB');
  });

  it('a lone state line is not an error', () => {
    const info = parseLxcInfo('State:          STOPPED\n');
    assert.equal(info.state, 'STOPPED');
    assert.equal(info.running, false);
    assert.equal(info.pid, undefined);
  });

  it('empty output is an error', () => {
    assert.throws(() => parseLxcInfo(''), (e: Error & { code: string }) => e.code === 'ERR_SYSTEM' && /printed nothing/.test(e.message));
    assert.throws(() => parseLxcInfo('  \n\n'), /printed nothing/);
    assert.throws(() => parseLxcInfo('garbage without colons'), /cannot parse/);
  });

  it('-s -p output', () => {
    const info = parseLxcInfo('State:          RUNNING\nPID:            4970\n');
    assert.deepEqual([info.state, info.pid], ['RUNNING', 4970]);
  });
});

const P = 'lxc-start c1 20261129125211.898';

describe("LXC's log", () => {
  it('exit code, the pid of the started command', () => {
    const run = parseLxcLog(
      [
        `${P} NOTICE   start - ../src/lxc/start.c:start:2194 - Exec'ing "/bin/true"`,
        `${P} NOTICE   start - ../src/lxc/start.c:post_start:2205 - Started "/bin/true" with pid "28138"`,
        `${P} INFO     error - ../src/lxc/error.c:lxc_error_set_and_log:31 - Child <28138> ended on error (3)`,
      ].join('\n'),
    );
    assert.equal(run.startedPid, 28138);
    assert.equal(run.exitCode, 3);
    assert.equal(run.signal, undefined);
  });

  it('a signal death; lxc-execute wording', () => {
    const run = parseLxcLog(
      [
        `lxc-execute c1 1.2 NOTICE   execute - ../src/lxc/execute.c:execute_post_start:34 - '/bin/sh' started with pid '5100'`,
        `${P} INFO     error - ../src/lxc/error.c:lxc_error_set_and_log:34 - Child <5100> ended on signal Killed(9)`,
      ].join('\n'),
    );
    assert.equal(run.startedPid, 5100);
    assert.equal(run.signal, 9);
    assert.equal(run.exitCode, undefined);
  });

  it('exit 0 has no status line, only the DEBUG one that the init exited', () => {
    const started = `${P} NOTICE   start - ../src/lxc/start.c:post_start:2205 - Started "/bin/sh" with pid "7"\n`;
    const run = parseLxcLog(started + `${P} DEBUG    start - ../src/lxc/start.c:signal_handler:464 - Container init process 7 exited\n`);
    assert.equal(run.startedPid, 7);
    assert.equal(run.exitCode, undefined);
    assert.equal(run.signal, undefined);
    assert.equal(run.initExited, true);
    assert.equal(parseLxcLog(started).initExited, undefined, 'lxc-start killed: no sign of the end');
  });

  it("exit 0 when LXC's loop ends on another child's SIGCHLD (user namespaces): the clean-up line says the init is gone", () => {
    const started = `${P} NOTICE   start - ../src/lxc/start.c:post_start:2205 - Started "/bin/true" with pid "7"\n`;
    const foreign = `${P} NOTICE   start - ../src/lxc/start.c:signal_handler:446 - Received 17 from pid 9 instead of container init 7\n`;
    const cleanup = `${P} DEBUG    network - ../src/lxc/network.c:lxc_delete_network:4173 - Deleted network devices\n`;
    assert.equal(parseLxcLog(started + foreign + cleanup).initExited, true);
    assert.equal(parseLxcLog(started + cleanup).initExited, undefined, 'no foreign SIGCHLD: the exited line decides');
    assert.equal(parseLxcLog(started + foreign).initExited, undefined, 'lxc-start killed in its loop');
  });

  it('an exec failure: the path and the errno', () => {
    const run = parseLxcLog(
      [
        `${P} ERROR    start - ../src/lxc/start.c:start:2197 - No such file or directory - Failed to exec "/bin/nonexist"`,
        `${P} ERROR    sync - ../src/lxc/sync.c:sync_wait:34 - An error occurred in another process (expected sequence number 7)`,
        `${P} ERROR    start - ../src/lxc/start.c:__lxc_start:2107 - Failed to spawn container "c1"`,
      ].join('\n'),
    );
    assert.equal(run.startedPid, undefined);
    assert.deepEqual(run.execFailure, { path: '/bin/nonexist', errno: 2 });
    assert.equal(startFailureMessage(run), 'No such file or directory - Failed to exec "/bin/nonexist"');
  });

  it('a config error names the key', () => {
    const run = parseLxcLog(
      [
        `${P} ERROR    confile - ../src/lxc/confile.c:set_config_unsupported_key:164 - Invalid argument - Unsupported config key "lxc.bogus"`,
        `${P} ERROR    parse - ../src/lxc/parse.c:lxc_file_for_each_line_mmap:129 - Failed to parse config file "k.conf" at line "lxc.bogus = 1"`,
        `${P} ERROR    lxc_start - ../src/lxc/tools/lxc_start.c:main:213 - Failed to load rcfile`,
      ].join('\n'),
    );
    assert.match(startFailureMessage(run) ?? '', /Unsupported config key "lxc.bogus"/);
  });

  it('a missing working directory', () => {
    const run = parseLxcLog(
      `${P} ERROR    start - ../src/lxc/start.c:do_start:1331 - No such file or directory - Could not change directory to "/nonexist"\n`,
    );
    assert.deepEqual(run.chdirFailure, { path: '/nonexist', errno: 2 });
  });

  it('the OOM counter', () => {
    assert.equal(parseOomKills('oom_kill_disable 0\nunder_oom 0\noom_kill 1\n'), 1);
    assert.equal(parseOomKills('low 0\nhigh 0\nmax 4\noom 1\noom_kill 2\noom_group_kill 0\n'), 2);
    assert.equal(parseOomKills(''), 0);
  });
});
