/**
 * Engines (Docker 20.10, Podman) write resource fields with a zero value that means "not set":
 * runc reads `cpu.shares: 0`, `cpu.quota: 0`, `cpu.period: 0`, `pids.limit: 0`, `blockIO.weight: 0`
 * and `memory.disableOOMKiller: false` as absent. A bundle's config.json gets the same reading here,
 * before validation, so that those fields are neither refused nor written to a cgroup.
 */
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function dropEngineZeros(json: unknown): unknown {
  const linux = isObj(json) ? json['linux'] : undefined;
  const r = isObj(linux) ? linux['resources'] : undefined;
  if (!isObj(r)) return json;
  const drop = (o: unknown, key: string, zero: unknown) => {
    if (isObj(o) && o[key] === zero) delete o[key];
  };
  for (const k of ['shares', 'quota', 'period']) drop(r['cpu'], k, 0);
  drop(r['pids'], 'limit', 0);
  drop(r['blockIO'], 'weight', 0);
  drop(r['memory'], 'disableOOMKiller', false);
  return json;
}
