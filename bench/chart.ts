/**
 * The bench's picture (issue 13): an SVG of horizontal bars, written by hand (no library): per
 * candidate its median (solid) and p90 (light, behind), in ms; and, when there is a throughput run,
 * a second panel of containers per second.
 */
import type { Summary } from './stats.js';

export interface Bar {
  name: string;
  value: number;
  /** a second, lighter bar behind (the p90) */
  behind?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const num = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

const ROW = 22;
const LABEL = 330;
const PLOT = 420;
const WIDTH = LABEL + PLOT + 90;

function ours(name: string): boolean {
  return /execdriver|library/.test(name);
}

/** One panel: a title, then one row a bar; returns the SVG elements and the height used. */
function panel(title: string, unit: string, bars: Bar[], y0: number): { svg: string[]; height: number } {
  const svg: string[] = [];
  const max = Math.max(...bars.map((b) => Math.max(b.value, b.behind ?? 0)), 1e-9);
  svg.push(`<text x="10" y="${y0 + 16}" class="t">${esc(title)}</text>`);
  let y = y0 + 28;
  for (const b of bars) {
    const w = (v: number) => Math.max(1, (v / max) * PLOT);
    const color = ours(b.name) ? '#2f6db5' : '#8a8a8a';
    svg.push(`<text x="${LABEL - 8}" y="${y + 15}" class="l">${esc(b.name)}</text>`);
    if (b.behind !== undefined) svg.push(`<rect x="${LABEL}" y="${y + 3}" width="${w(b.behind).toFixed(1)}" height="${ROW - 6}" fill="${color}" opacity="0.3"/>`);
    svg.push(`<rect x="${LABEL}" y="${y + 3}" width="${w(b.value).toFixed(1)}" height="${ROW - 6}" fill="${color}"/>`);
    const end = LABEL + w(Math.max(b.value, b.behind ?? 0)) + 6;
    const text = b.behind !== undefined ? `${num(b.value)} / ${num(b.behind)} ${unit}` : `${num(b.value)} ${unit}`;
    svg.push(`<text x="${end.toFixed(1)}" y="${y + 15}" class="v">${esc(text)}</text>`);
    y += ROW;
  }
  return { svg, height: y - y0 + 10 };
}

/** The chart: latency medians and p90s (ms), and containers per second when given. */
export function benchChart(opts: { title: string; latency: Summary[]; throughput?: Bar[]; throughputTitle?: string }): string {
  const parts: string[] = [];
  let y = 10;
  parts.push(`<text x="10" y="${y + 14}" class="h">${esc(opts.title)}</text>`);
  y += 24;
  const lat = panel('start to exit of /bin/true, ms: median (solid) and p90 (light); blue is execdriver', 'ms', opts.latency.map((r) => ({ name: r.name, value: r.median, behind: r.p90 })), y);
  parts.push(...lat.svg);
  y += lat.height;
  if (opts.throughput?.length) {
    const tp = panel(opts.throughputTitle ?? 'throughput, containers per second', '/s', opts.throughput, y);
    parts.push(...tp.svg);
    y += tp.height;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="sans-serif">`,
    '<style>.h{font-size:15px;font-weight:bold}.t{font-size:13px;font-weight:bold}.l{font-size:12px;text-anchor:end}.v{font-size:11px;fill:#333}</style>',
    `<rect width="${WIDTH}" height="${y}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
