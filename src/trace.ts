/**
 * EXECDRIVER_TRACE=1: one stderr line per container, the ms spent in each phase of its run, for
 * both drivers (`execdriver-trace ID phase=ms ...`). The first call for an id starts its clock;
 * `end` prints the line.
 */
const traces = new Map<string, { last: bigint; parts: string[] }>();

export function trace(id: string, phase: string, end = false): void {
  if (process.env['EXECDRIVER_TRACE'] !== '1') return;
  const now = process.hrtime.bigint();
  const t = traces.get(id);
  if (!t) return void traces.set(id, { last: now, parts: [] });
  t.parts.push(`${phase}=${(Number(now - t.last) / 1e6).toFixed(2)}`);
  t.last = now;
  if (!end) return;
  traces.delete(id);
  process.stderr.write(`execdriver-trace ${id} ${t.parts.join(' ')}\n`);
}
