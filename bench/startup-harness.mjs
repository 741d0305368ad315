// The start-up comparisons of bench/STARTUP.md (round 3): an interleaved round-robin, each command
// run under startup-rt.c (wall time, and CPU time of it and every child it waited for).
//   node bench/startup-harness.mjs ROUNDS WARMUP 'NAME::CMD ARG...' ...
// `%ID` in an argument becomes a fresh container id; `LIB::REPO ROOTFS STATEROOT` times the
// library's run of /bin/true (net none) in one warm process of REPO's dist/src (wall only).
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadavg, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
const work = mkdtempSync(`${tmpdir()}/startup-harness-`);
const RT = `${work}/rt`;
spawnSync('gcc', ['-O2', '-o', RT, fileURLToPath(new URL('startup-rt.c', import.meta.url))], { stdio: 'inherit' });
if (!existsSync(RT)) throw new Error('gcc could not build startup-rt.c');
const LIBSRV = `${work}/libsrv.mjs`;
writeFileSync(LIBSRV, `import { createInterface } from 'node:readline';
const [repo, rootfs, root] = process.argv.slice(2);
const { createDriver } = await import(repo + '/dist/src/index.js');
const d = createDriver('native', { root });
let i = 0;
for await (const line of createInterface({ input: process.stdin })) {
  const t0 = process.hrtime.bigint();
  const s = await d.run({ id: 'lib' + process.pid + 'x' + i++, rootfs, entrypoint: '/bin/true', arguments: [], network: { mode: 'none' } }, { stdin: null, stdout: null, stderr: null });
  process.stdout.write(Number(process.hrtime.bigint() - t0) / 1e6 + ' ' + s.exitCode + '\\n');
}
`);
const [rounds, warm, ...specs] = process.argv.slice(2);
const env = { ...process.env }; delete env.NODE_EXTRA_CA_CERTS; delete env.EXECDRIVER_TRACE;
const cands = specs.map((s) => { const [name, cmd] = s.split('::'); return { name, argv: cmd.split(' ').filter(Boolean), wall: [], cpu: [], rss: [] }; });
for (const c of cands) if (c.argv[0] === 'LIB') {
  const child = spawn('node', [LIBSRV, ...c.argv.slice(1)], { stdio: ['pipe', 'pipe', 'inherit'], env });
  const it = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  c.lib = async () => { child.stdin.write('run\n'); const { value } = await it.next(); return Number(value.split(' ')[0]); };
  c.child = child;
}
let n = 0;
const l0 = loadavg()[0];
for (let r = 0; r < +rounds + +warm; r++) {
  for (let k = 0; k < cands.length; k++) {
    const c = cands[(r + k) % cands.length];
    if (c.lib) { const ms = await c.lib(); if (r >= +warm) { c.wall.push(ms); c.cpu.push(NaN); c.rss.push(NaN); } continue; }
    const argv = c.argv.map((a) => a.replace('%ID', `rfb${process.pid}x${n++}`));
    const res = spawnSync(RT, argv, { stdio: ['ignore', 'pipe', 'pipe'], env, encoding: 'utf8' });
    if (res.status !== 0) { console.error(c.name, 'failed', res.status, res.stderr); process.exit(1); }
    const [w, u, m] = res.stdout.trim().split(' ').map(Number);
    if (r >= +warm) { c.wall.push(w); c.cpu.push(u); c.rss.push(m); }
  }
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const bw = med(cands[0].wall), bc = med(cands[0].cpu);
for (const c of cands) c.child?.stdin.end();
console.log(`rounds ${rounds}, warm-up ${warm}, load ${l0.toFixed(1)} -> ${loadavg()[0].toFixed(1)}`);
console.log(`${''.padEnd(26)} wall-med  wall-min  ×first  +first |  cpu-med ×first +first | cpu-min | rss MiB`);
for (const c of cands) console.log(`${c.name.padEnd(26)} ${med(c.wall).toFixed(1).padStart(8)} ${Math.min(...c.wall).toFixed(1).padStart(8)} ${(med(c.wall) / bw).toFixed(2).padStart(7)} ${(med(c.wall) - bw).toFixed(1).padStart(7)} | ${med(c.cpu).toFixed(1).padStart(8)} ${(med(c.cpu) / bc).toFixed(2).padStart(6)} ${(med(c.cpu) - bc).toFixed(1).padStart(6)} | ${Math.min(...c.cpu).toFixed(1)} | ${(med(c.rss) / 1024).toFixed(1)}`);
rmSync(work, { recursive: true, force: true });
