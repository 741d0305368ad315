import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createDriverFrom, driverNames, type ManagedDriver } from '../driver.js';
import { NotFoundError } from '../errors.js';
import { validateId } from '../id.js';
import { readFileSync } from 'node:fs';

/**
 * The drivers of this package, each imported (and so registered) only when a verb needs it: a verb
 * loads no driver module until it has a container to act on (issue 13, start-up).
 */
const BUILT_IN: Record<string, () => Promise<unknown>> = {
  native: () => import('../native/index.js'),
  lxc: () => import('../lxc/index.js'),
};

/** The names of the drivers a container can be under, without loading any. */
export function knownDrivers(): string[] {
  return [...new Set([...Object.keys(BUILT_IN), ...driverNames()])];
}

/** The drivers that have a state directory under `root` (a driver without one has no containers there). */
export function presentDrivers(root: string): string[] {
  return knownDrivers().filter((name) => existsSync(join(root, name)));
}

export async function driverFor(name: string | undefined, root: string): Promise<ManagedDriver> {
  const n = name ?? 'native';
  if (!driverNames().includes(n)) {
    // an unknown name loads them all, so that the error lists every driver
    const load = BUILT_IN[n];
    await (load ? load() : Promise.all(Object.values(BUILT_IN).map((l) => l())));
  }
  return createDriverFrom(n, { root });
}

/** The driver that holds container `id` (its state directory is under `<root>/<driver>/`). */
export async function driverOf(id: string, root: string, asked?: string): Promise<ManagedDriver> {
  validateId(id); // `..`, `../network`: never a path under the root
  if (asked) return driverFor(asked, root);
  for (const name of knownDrivers()) {
    if (existsSync(join(root, name, id))) return driverFor(name, root);
  }
  throw new NotFoundError(id, root);
}

/** What a container's spec (config.json) records of the Docker flags: labels, stop signal and timeout. */
export function specExtras(root: string, driver: string, id: string): { labels: Record<string, string>; stopSignal: string; stopTimeout: number } {
  let a: Record<string, string> = {};
  try {
    a = (JSON.parse(readFileSync(join(root, driver, id, 'config.json'), 'utf8')) as { annotations?: Record<string, string> }).annotations ?? {};
  } catch {
    /* no spec (yet): the defaults */
  }
  let labels: Record<string, string> = {};
  try {
    labels = a['org.execdriver.labels'] ? (JSON.parse(a['org.execdriver.labels']) as Record<string, string>) : {};
  } catch {
    /* not ours */
  }
  const t = Number(a['org.execdriver.stop-timeout']);
  return { labels, stopSignal: a['org.execdriver.stop-signal'] || 'SIGTERM', stopTimeout: Number.isInteger(t) && t >= 0 ? t : 10 };
}
