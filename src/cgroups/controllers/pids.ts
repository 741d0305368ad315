/** The pids controller: the most processes a container may have, and how many it has. */
import type { CgroupWrite, Resources } from '../resources.js';
import { parseCount, parseLimit } from './parse.js';

export interface PidsStats {
  current: number;
  /** null: no limit */
  limit: number | null;
}

/** Same files on v1 and v2: pids.current, pids.max. */
export function parsePidsStats(files: { current?: string; max?: string }): PidsStats {
  return { current: parseCount(files.current), limit: files.max === undefined ? null : parseLimit(files.max) };
}

export function renderPids(r: Resources): CgroupWrite[] {
  if (r.pidsLimit === undefined) return [];
  return [{ controller: 'pids', file: 'pids.max', value: r.pidsLimit === -1 ? 'max' : String(r.pidsLimit), field: 'pidsLimit' }];
}
