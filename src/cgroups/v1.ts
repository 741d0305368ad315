/** The cgroup v1 backend: one directory per hierarchy, each controller's own files. */
import type { CgroupBackend } from './backend.js';
import { readFiles, readOptional } from './backend.js';
import { parseCpuStats, renderCpu } from './controllers/cpu.js';
import { renderCpuset } from './controllers/cpuset.js';
import { renderDevicesV1 } from './controllers/devices.js';
import { IO_STAT_FILES, parseIoStats } from './controllers/io.js';
import { MEMORY_STAT_FILES, parseMemoryStats, renderMemory } from './controllers/memory.js';
import { parseLimit } from './controllers/parse.js';
import { parsePidsStats, renderPids } from './controllers/pids.js';

export const v1Backend: CgroupBackend = {
  version: 1,
  cpuUsageController: 'cpuacct',
  ioController: 'blkio',
  render: (r, devices, inherit) => [...renderDevicesV1(devices), ...renderMemory(1, r), ...renderCpu(1, r), ...renderCpuset(r, inherit), ...renderPids(r)],
  renderUpdate: (r, opts) => [...renderMemory(1, r, opts), ...renderCpu(1, r, { update: true }), ...renderCpuset(r), ...renderPids(r)],
  freezer: (path) => ({ version: 1, path }),
  readMemory: async (path) => parseMemoryStats(1, await readFiles(path, MEMORY_STAT_FILES[1])),
  readCpu: async (path) =>
    parseCpuStats(1, await readFiles(path, { usage: 'cpuacct.usage', user: 'cpuacct.usage_user', system: 'cpuacct.usage_sys' })),
  readPids: async (path) => parsePidsStats(await readFiles(path, { current: 'pids.current', max: 'pids.max' })),
  readIo: async (path) => parseIoStats(1, await readFiles(path, IO_STAT_FILES[1])),
  readMemoryLimit: async (path) => {
    const t = await readOptional(`${path}/memory.limit_in_bytes`);
    return t === undefined ? null : parseLimit(t);
  },
};
