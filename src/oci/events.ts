/**
 * `execdriver-oci events`: JSON lines as runc prints them: `{"type":"stats","id":…,"data":{…}}`
 * every --interval (once with --stats), and `{"type":"oom","id":…}` when the container's OOM
 * kill count grows. Ends when the container stops.
 */
import { ExecDriverError } from '../errors.js';
import { sleep } from '../time.js';
import { UsageError, type parseFlags as ParseFlags } from './cli.js';
import type { OciDriver } from './driver.js';

function duration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v);
  if (!m) throw new UsageError(`invalid duration "${v}"`);
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000);
}

export async function eventsVerb(d: OciDriver, argv: string[], parseFlags: typeof ParseFlags): Promise<number> {
  const { flags, args } = parseFlags(argv, { stats: { kind: 'bool' }, interval: { kind: 'string' } });
  const id = args[0];
  if (!id || args.length > 1) throw new UsageError('"events" requires exactly 1 argument (the container id)');
  const interval = duration((flags['interval'] as string | undefined) ?? '5s');
  let oom = -1;
  for (;;) {
    const st = d.ociState(id);
    if (st.status !== 'running' && st.status !== 'paused') {
      if (flags['stats']) throw new ExecDriverError('ERR_NOT_RUNNING', `container ${id} is not running`, { containerId: id });
      return 0;
    }
    const s = await d.stats(id);
    const kills = s.memory?.oomKills ?? 0;
    if (oom >= 0 && kills > oom) process.stdout.write(JSON.stringify({ type: 'oom', id }) + '\n');
    oom = kills;
    const data = {
      cpu: { usage: { total: s.cpu?.usageNs ?? 0, kernel: s.cpu?.systemNs ?? 0, user: s.cpu?.userNs ?? 0 } },
      memory: {
        usage: { limit: s.memory?.limit ?? 0, usage: s.memory?.usage ?? 0 },
        raw: { cache: s.memory?.cache ?? 0, rss: s.memory?.rss ?? 0 },
      },
      pids: { current: s.pids.current, ...(s.pids.limit !== null ? { limit: s.pids.limit } : {}) },
    };
    process.stdout.write(JSON.stringify({ type: 'stats', id, data }) + '\n');
    if (flags['stats']) return 0;
    await sleep(interval);
  }
}
