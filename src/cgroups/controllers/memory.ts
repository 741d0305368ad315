/**
 * The memory controller: limits (v1 memory.limit_in_bytes/memsw/soft limit, v2 memory.max/swap.max/low)
 * and statistics (usage, limit, page cache, OOM kills).
 */
import type { CgroupWrite, Resources } from '../resources.js';
import { parseCount, parseFlatKeyed, parseLimit } from './parse.js';

export interface MemoryStats {
  /** bytes charged to the container now (page cache included) */
  usage: number;
  /** the hard limit in bytes; null: no limit */
  limit: number | null;
  /** page cache (v1 `total_cache`, v2 `file`) */
  cache: number;
  /** resident anonymous memory (v1 `total_rss`, v2 `anon`) */
  rss: number;
  /** processes the kernel's OOM killer killed in the container */
  oomKills: number;
}

/** The files a memory stats read needs, per version. */
export const MEMORY_STAT_FILES = {
  1: { usage: 'memory.usage_in_bytes', limit: 'memory.limit_in_bytes', stat: 'memory.stat', events: 'memory.oom_control' },
  2: { usage: 'memory.current', limit: 'memory.max', stat: 'memory.stat', events: 'memory.events' },
} as const;

/** `oom_kill N` of v1 memory.oom_control or v2 memory.events. */
export function parseOomKills(text: string): number {
  return parseFlatKeyed(text).get('oom_kill') ?? 0;
}

export function parseMemoryStats(version: 1 | 2, files: { usage?: string; limit?: string; stat?: string; events?: string }): MemoryStats {
  const stat = parseFlatKeyed(files.stat ?? '');
  const pick = (v1: string, v1flat: string, v2: string) => (version === 1 ? (stat.get(v1) ?? stat.get(v1flat)) : stat.get(v2)) ?? 0;
  return {
    usage: parseCount(files.usage),
    limit: files.limit === undefined ? null : parseLimit(files.limit),
    cache: pick('total_cache', 'cache', 'file'),
    rss: pick('total_rss', 'rss', 'anon'),
    oomKills: files.events === undefined ? 0 : parseOomKills(files.events),
  };
}

export interface MemoryRenderOptions {
  /** v1: write the memory+swap limit before the memory limit (raising both past the current memsw) */
  swapFirst?: boolean;
}

export function renderMemory(version: 1 | 2, r: Resources, opts: MemoryRenderOptions = {}): CgroupWrite[] {
  const w: CgroupWrite[] = [];
  if (version === 1) {
    const mem: CgroupWrite[] = [];
    if (r.memory !== undefined) mem.push({ controller: 'memory', file: 'memory.limit_in_bytes', value: String(r.memory), field: 'memory' });
    const swap: CgroupWrite[] = [];
    if (r.memorySwap !== undefined) {
      // memsw counts memory + swap, so it normally goes after the memory limit it must not undercut
      swap.push({
        controller: 'memory',
        file: 'memory.memsw.limit_in_bytes',
        value: String(r.memorySwap),
        field: 'memorySwap',
        ...(r.memorySwap === -1 ? { optional: true } : {}),
      });
    }
    const soft: CgroupWrite[] = [];
    if (r.memoryReservation !== undefined) {
      soft.push({ controller: 'memory', file: 'memory.soft_limit_in_bytes', value: String(r.memoryReservation), field: 'memoryReservation' });
    }
    w.push(...(opts.swapFirst ? [...swap, ...mem, ...soft] : [...mem, ...soft, ...swap]));
    return w;
  }
  if (r.memory !== undefined) w.push({ controller: 'memory', file: 'memory.max', value: String(r.memory), field: 'memory' });
  if (r.memorySwap !== undefined && r.memory !== undefined) {
    const swap = r.memorySwap === -1 ? 'max' : String(r.memorySwap - r.memory);
    w.push({ controller: 'memory', file: 'memory.swap.max', value: swap, field: 'memorySwap', ...(swap === 'max' ? { optional: true } : {}) });
  }
  if (r.memoryReservation !== undefined) {
    w.push({ controller: 'memory', file: 'memory.low', value: String(r.memoryReservation), field: 'memoryReservation' });
  }
  return w;
}
