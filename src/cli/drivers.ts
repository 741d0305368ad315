import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createDriverFrom, driverNames, type ManagedDriver } from '../driver.js';
import { NotFoundError } from '../errors.js';

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
  if (asked) return driverFor(asked, root);
  for (const name of knownDrivers()) {
    if (existsSync(join(root, name, id))) return driverFor(name, root);
  }
  throw new NotFoundError(id, root);
}
