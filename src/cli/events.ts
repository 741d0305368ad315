import { InvalidConfigError } from '../errors.js';
import { followEvents, type RecordedEvent } from '../events/log.js';
import { str, type Verb } from './args.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A time as docker's `--since`/`--until` take it: an ISO time (`2026-12-05T05:00:00Z`, a date),
 * a unix time in seconds (`1796451600`, `1796451600.5`), or a duration back from now (`10m`,
 * `1h30m`, `45s`, `500ms`). Returns ms since the epoch.
 */
export function parseEventTime(text: string, what: string, now = Date.now()): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length && parts.map((p) => p[0]).join('') === t) return now - parts.reduce((ms, p) => ms + Number(p[1]) * UNITS[p[2]!]!, 0);
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  throw new InvalidConfigError(`${what} ${JSON.stringify(text)}: not a time (an ISO time, a unix time, or a duration such as 10m)`);
}

/** docker events' line: time, `container`, the type, the id, then the attributes. */
export function formatEvent(ev: RecordedEvent): string {
  const attrs: string[] = [`driver=${ev.driver}`];
  if (ev.execId !== undefined) attrs.push(`execID=${ev.execId}`);
  if (ev.pid !== undefined) attrs.push(`pid=${ev.pid}`);
  if (ev.exitCode !== undefined) attrs.push(`exitCode=${ev.exitCode}`);
  if (ev.signal !== undefined) attrs.push(`signal=${ev.signal}`);
  return `${ev.time} container ${ev.type} ${ev.id} (${attrs.join(', ')})`;
}

export const eventsVerb: Verb = {
  name: 'events',
  summary: 'print the events of every container under the root (follows until ^C without --until)',
  usage: `execdriver events [--json] [--since T] [--until T]

  T: an ISO time, a unix time (seconds), or a duration back from now (10m, 1h30m, 45s).
  Without --since, only events from now on; without --until, it follows until SIGINT/SIGTERM.`,
  options: { json: { type: 'boolean' }, since: { type: 'string' }, until: { type: 'string' } },
  async run(ctx, values) {
    const now = Date.now();
    const sinceText = str(values['since']);
    const untilText = str(values['until']);
    const since = sinceText !== undefined ? parseEventTime(sinceText, '--since', now) : undefined;
    const until = untilText !== undefined ? parseEventTime(untilText, '--until', now) : undefined;
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const it = followEvents(ctx.root, { ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}), signal: ac.signal });
      for await (const ev of it) {
        const line = values['json'] ? JSON.stringify(ev) : formatEvent(ev);
        if (!process.stdout.write(line + '\n')) await new Promise((r) => process.stdout.once('drain', r));
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return 0;
  },
};
