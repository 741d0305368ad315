// The test command: every compiled test file, one at a time (they run real containers as root),
// with the leak check last.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const top = new URL('..', import.meta.url).pathname;
const distTest = join(top, 'dist', 'test');
const files = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.js')) files.push(p);
  }
};
walk(distTest);
const leaks = files.filter((f) => f.endsWith('zz-leaks.test.js'));
const ordered = [...files.filter((f) => !leaks.includes(f)), ...leaks];
const only = process.argv.slice(2);
const chosen = only.length ? ordered.filter((f) => only.some((o) => relative(distTest, f).includes(o))) : ordered;
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...chosen], { stdio: 'inherit', cwd: top });
process.exit(r.status ?? 1);
