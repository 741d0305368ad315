// The end of a foreground run (StateDir.retire): the state directory is renamed to
// `<root>/.retired/` at once (the id is free, nothing is left under `native/`) and removed in the
// background; whatever is pending when the process exits is removed then, even on process.exit();
// a killed process's leftovers go with the next settleAll (sweepRetired).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RETIRED_DIR } from '../../src/state/index.js';
import { nativeFixture, TEST_ROOT, uniqueId } from '../helpers.js';

const retired = join(TEST_ROOT, RETIRED_DIR);
const entries = (): string[] => (existsSync(retired) ? readdirSync(retired) : []);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('retired state directories', () => {
  const fx = nativeFixture();

  it('a run ends with its state directory gone from native/, then removed from .retired', async () => {
    const id = uniqueId('rt');
    const st = await fx.driver.run({ id, rootfs: fx.rootfs.dir, entrypoint: '/bin/true', network: { mode: 'none' } });
    assert.equal(st.exitCode, 0);
    assert.equal(existsSync(join(TEST_ROOT, 'native', id)), false);
    // the id is free at once
    assert.equal((await fx.driver.run({ id, rootfs: fx.rootfs.dir, entrypoint: '/bin/true', network: { mode: 'none' } })).exitCode, 0);
    const end = Date.now() + 5000;
    while (entries().some((e) => e.includes(`.${id}.`)) && Date.now() < end) await sleep(20);
    assert.deepEqual(entries().filter((e) => e.includes(`.${id}.`)), []);
  });

  it("a process that exits at once (process.exit) leaves nothing in .retired", () => {
    const id = uniqueId('rt');
    const index = new URL('../../src/index.js', import.meta.url).pathname;
    const code = `const { createDriver } = await import(${JSON.stringify(index)});
      const d = createDriver('native', { root: ${JSON.stringify(TEST_ROOT)} });
      const st = await d.run({ id: ${JSON.stringify(id)}, rootfs: ${JSON.stringify(fx.rootfs.dir)}, entrypoint: '/bin/true', network: { mode: 'none' } });
      process.exit(st.exitCode);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(join(TEST_ROOT, 'native', id)), false);
    assert.deepEqual(entries().filter((e) => e.includes(`.${id}.`)), []);
  });

  it("a dead process's leftover is swept by the next list; a live process's is not", async () => {
    const dead = spawnSync('/bin/sh', ['-c', 'echo $$'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout.trim());
    const id = uniqueId('rt');
    const gone = join(retired, `native.${id}.${deadPid}.0`);
    const live = join(retired, `native.${id}.${process.pid}.999999`); // ours, alive, not retiring: not swept
    for (const d of [gone, live]) {
      mkdirSync(join(d, 'rootfs', 'upper'), { recursive: true });
      writeFileSync(join(d, 'state.json'), '{}');
    }
    try {
      await fx.driver.list();
      assert.equal(existsSync(gone), false);
      assert.equal(existsSync(live), true);
    } finally {
      spawnSync('rm', ['-rf', gone, live]);
    }
  });
});
