/**
 * The OCI conformance cases (cases.ts) against runc, crun and execdriver-oci, in that order.
 * runc and crun are references: a case they fail is recorded, not failed. execdriver-oci must pass
 * every case that runc or crun passes; a case both fail is run and recorded for it, but skipped.
 * Afterwards: no container, state dir, cgroup or process left, and the table of the three columns
 * (for the README) printed and written to $OCI_CONFORMANCE_TABLE (default
 * /tmp/execdriver-oci-conformance.md).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { join } from 'node:path';
import { sleep } from '../helpers.js';
import { CASES, type Ctx } from './cases.js';
import { baseConfig, cgroupsNamed, Oci, runtimes, type Runtime } from './harness.js';

type Outcome = { ok: true } | { ok: false; why: string } | { skipped: string };
const results = new Map<string, Map<string, Outcome>>();
const record = (rt: string, name: string, o: Outcome) => {
  if (!results.has(name)) results.set(name, new Map());
  results.get(name)?.set(rt, o);
};
const only = process.env['OCI_RUNTIMES']?.split(',');
const RTS = runtimes().filter((r) => !only || only.includes(r.name));
const short: Record<Runtime['name'], string> = { runc: 'r', crun: 'c', 'execdriver-oci': 'e' };

for (const rt of RTS) {
  describe(`OCI conformance: ${rt.name}`, { concurrency: false }, () => {
    const tag = `${short[rt.name]}${process.pid.toString(36)}`;
    const oci = rt.missing ? undefined : new Oci(rt, tag);
    const seenPids: number[] = [];
    let n = 0;
    for (const k of CASES) {
      it(`${k.section}: ${k.name}`, { timeout: 60_000 }, async (t) => {
        if (!oci) {
          record(rt.name, k.name, { skipped: rt.missing ?? '' });
          return t.skip(rt.missing);
        }
        const ids: string[] = [];
        const ctx: Ctx = {
          oci,
          id: () => {
            const id = `interop-${tag}-${(n++).toString(36)}`;
            ids.push(id);
            return id;
          },
          config: (args, id) => baseConfig(args, `/edt-interop-${id}`),
          holders: [],
          pids: seenPids,
        };
        let err: unknown;
        try {
          await k.run(ctx);
        } catch (e) {
          err = e;
        } finally {
          // every id the case made (the root's layout is the runtime's own: runc keeps ROOT/ID, we ROOT/native/ID)
          for (const id of ids) oci.cmd(['delete', '--force', id]);
          for (const p of ctx.holders) if (p) process.kill(p, 'SIGKILL');
          // a case's cgroup must be gone with its container (a leak fails the case)
          for (const id of ids) {
            const left = cgroupsNamed(`edt-interop-${id}`);
            if (!left.length) continue;
            await sleep(300);
            const still = cgroupsNamed(`edt-interop-${id}`);
            if (!still.length) continue;
            err ??= new Error(`leak: cgroup ${still[0]} left (processes ${readFileSync(join(still[0] ?? '', 'cgroup.procs'), 'utf8').trim() || 'none'})`);
            sweep(still);
          }
        }
        const why = whyOf(err);
        record(rt.name, k.name, err === undefined ? { ok: true } : { ok: false, why });
        if (err === undefined) return;
        if (rt.name !== 'execdriver-oci') return t.skip(`${rt.name} fails it here: ${why}`);
        const refs = ['runc', 'crun'].filter((r) => {
          const o = results.get(k.name)?.get(r);
          return o && 'ok' in o && o.ok;
        });
        if (!refs.length) return t.skip(`runc and crun fail it too: ${why}`);
        throw err;
      });
    }
    it('no leak: state root empty, no cgroup, no process of the cases', async (t) => {
      if (!oci) return t.skip(rt.missing);
      await sleep(100);
      const left = oci.entries();
      oci.cleanup();
      assert.deepEqual(left, [], 'state root entries left');
      assert.deepEqual(cgroupsNamed(`edt-interop-interop-${tag}`), [], 'cgroups left');
      const alive = seenPids.filter((p) => {
        try {
          process.kill(p, 0);
          return !/\) Z /.test(require_('/proc/' + p + '/stat'));
        } catch {
          return false;
        }
      });
      assert.deepEqual(alive, [], 'container processes left');
    });
  });
}


function require_(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

function whyOf(err: unknown): string {
  if (err instanceof assert.AssertionError && (err.operator === 'strictEqual' || err.operator === 'deepStrictEqual')) {
    return `expected ${JSON.stringify(err.expected)}, got ${JSON.stringify(err.actual)}`.slice(0, 300);
  }
  return err instanceof Error ? (err.message.split('\n')[0] ?? '').slice(0, 300) : String(err);
}

/** SIGKILL what is left in leaked cgroups, then remove them (deepest first). */
function sweep(dirs: string[]): void {
  for (const d of dirs) {
    for (const p of require_(join(d, 'cgroup.procs')).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  const end = Date.now() + 2000;
  for (const d of dirs.sort((a, b) => b.length - a.length)) {
    for (;;) {
      try {
        rmdirSync(d);
        break;
      } catch {
        if (Date.now() > end) break;
      }
    }
  }
}

after(() => {
  const cell = (o: Outcome | undefined) => (!o ? '–' : 'skipped' in o ? 'n/a' : o.ok ? 'pass' : 'FAIL');
  const rows = [...results.keys()].map((name) => {
    const m = results.get(name);
    return `| ${name} | ${RTS.map((r) => cell(m?.get(r.name))).join(' | ')} |`;
  });
  const totals = RTS.map((r) => {
    const all = [...results.values()].map((m) => m.get(r.name));
    return `${all.filter((o) => o && 'ok' in o && o.ok).length}/${all.length}`;
  });
  const fails = [...results.entries()].flatMap(([name, m]) =>
    RTS.flatMap((r) => {
      const o = m.get(r.name);
      return o && 'ok' in o && !o.ok ? [`- ${r.name}, ${name}: ${o.why}`] : [];
    }),
  );
  const table = [
    `| case | ${RTS.map((r) => r.name).join(' | ')} |`,
    `|---|${RTS.map(() => '---').join('|')}|`,
    ...rows,
    `| **passed** | ${totals.join(' | ')} |`,
    '',
    ...fails,
    '',
  ].join('\n');
  const file = process.env['OCI_CONFORMANCE_TABLE'] ?? '/tmp/execdriver-oci-conformance.md';
  writeFileSync(file, table);
  process.stdout.write(`\n${table}\n`);
});
