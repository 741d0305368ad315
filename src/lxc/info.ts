/**
 * `lxc-info` output → fields. Pure.
 *
 * LXC 5 prints `Key:` + padding + value per line (`State:          RUNNING`, `PID:            50`,
 * `CPU use:        0.01 seconds` …); `-s`/`-p` print only some of them. Keys are lower-cased.
 */
import { ExecDriverError } from '../errors.js';

export interface LxcInfo {
  /** every `key: value` line, keys lower-cased (`state`, `pid`, `cpu use`, `memory use` …) */
  fields: Record<string, string>;
  /** `RUNNING`, `STOPPED`, `STARTING` … as printed */
  state?: string;
  pid?: number;
  running: boolean;
}

/** Parse the text lxc-info printed. Empty output is an error; a lone `State:` line is not. */
export function parseLxcInfo(text: string, containerId?: string): LxcInfo {
  const fields: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    fields[key] = line.slice(colon + 1).trim();
  }
  if (Object.keys(fields).length === 0) {
    throw new ExecDriverError(
      'ERR_SYSTEM',
      text.trim() ? `cannot parse the output of lxc-info: ${JSON.stringify(text.trim().slice(0, 200))}` : 'lxc-info printed nothing',
      { step: 'lxc-info', path: 'lxc-info', ...(containerId ? { containerId } : {}) },
    );
  }
  const info: LxcInfo = { fields, running: false };
  if (fields['state'] !== undefined) {
    info.state = fields['state'];
    info.running = info.state.toUpperCase() === 'RUNNING';
  }
  const pid = fields['pid'];
  if (pid !== undefined && /^\d+$/.test(pid) && Number(pid) > 0) info.pid = Number(pid);
  return info;
}
