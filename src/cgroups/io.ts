/**
 * Asynchronous cgroupfs helpers for the operations that may wait (freezing, removing, listing).
 */
import { constants } from 'node:fs';
import { writeFile } from 'node:fs/promises'; // (its flag may be a number: O_WRONLY, for write-only cgroup files)
import { readFile, readdir } from '../fs-async.js';
import { join } from 'node:path';

export async function writeValue(path: string, value: string): Promise<void> {
  await writeFile(path, value, { flag: constants.O_WRONLY });
}

export async function readText(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

/** Pids listed in a cgroup.procs text. */
export function parsePids(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const n = Number.parseInt(line, 10);
    if (n > 0) out.push(n);
  }
  return out;
}

/** Sub-directories (child cgroups) of a cgroup directory; [] when it is gone. */
export async function childCgroups(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Pids in `dir` and all its child cgroups; [] when the directory is gone. */
export async function pidsOfTree(dir: string): Promise<number[]> {
  let text: string;
  try {
    text = await readFile(join(dir, 'cgroup.procs'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const pids = parsePids(text);
  for (const child of await childCgroups(dir)) pids.push(...(await pidsOfTree(child)));
  return pids;
}

export function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export { sleep } from '../time.js';
