/** The cgroup v2 backend: one directory in the unified tree, controllers enabled from the root down. */
import type { CgroupBackend } from './backend.js';
import { readFiles, readOptional } from './backend.js';
import { parseCpuStats, renderCpu } from './controllers/cpu.js';
import { renderCpuset } from './controllers/cpuset.js';
import { IO_STAT_FILES, parseIoStats } from './controllers/io.js';
import { MEMORY_STAT_FILES, parseMemoryStats, renderMemory } from './controllers/memory.js';
import { parseLimit } from './controllers/parse.js';
import { parsePidsStats, renderPids } from './controllers/pids.js';

export const v2Backend: CgroupBackend = {
  version: 2,
  cpuUsageController: 'cpu',
  ioController: 'io',
  // device rules: a BPF program, not files (see controllers/devices.ts)
  render: (r) => [...renderMemory(2, r), ...renderCpu(2, r), ...renderCpuset(r), ...renderPids(r)],
  renderUpdate: (r) => [...renderMemory(2, r), ...renderCpu(2, r, { update: true }), ...renderCpuset(r), ...renderPids(r)],
  freezer: (path) => ({ version: 2, path }),
  readMemory: async (path) => parseMemoryStats(2, await readFiles(path, MEMORY_STAT_FILES[2])),
  readCpu: async (path) => parseCpuStats(2, await readFiles(path, { stat: 'cpu.stat' })),
  readPids: async (path) => parsePidsStats(await readFiles(path, { current: 'pids.current', max: 'pids.max' })),
  readIo: async (path) => parseIoStats(2, await readFiles(path, IO_STAT_FILES[2])),
  readMemoryLimit: async (path) => {
    const t = await readOptional(`${path}/memory.max`);
    return t === undefined ? null : parseLimit(t);
  },
};
