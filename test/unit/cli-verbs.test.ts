import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { VERBS } from '../../src/cli/main.js';

describe('the verb table of the command line (loaded lazily)', () => {
  it("names, aliases and summaries are each verb's own", async () => {
    for (const entry of VERBS) {
      const verb = await entry.load();
      assert.equal(verb.name, entry.name);
      assert.deepEqual(verb.aliases, entry.aliases, `${entry.name}: aliases`);
      assert.equal(verb.summary, entry.summary, `${entry.name}: summary`);
    }
    const names = VERBS.flatMap((v) => [v.name, ...(v.aliases ?? [])]);
    assert.equal(new Set(names).size, names.length, 'no name twice');
  });
  it('every verb module of src/cli is in the table', () => {
    const dir = new URL('../../../src/cli/', import.meta.url);
    const declared = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...readFileSync(new URL(f, dir), 'utf8').matchAll(/^export const (\w+Verb): Verb = \{\s*name: '([^']+)'/gm)].map((m) => m[2]!));
    for (const name of declared) assert.ok(VERBS.some((v) => v.name === name), `verb ${name} is in main.ts's VERBS`);
  });
});
