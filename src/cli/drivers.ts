import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createDriverFrom, driverNames, type ManagedDriver } from '../driver.js';
import { NotFoundError } from '../errors.js';
import '../index.js'; // registers the drivers

export function driverFor(name: string | undefined, root: string): ManagedDriver {
  return createDriverFrom(name ?? 'native', { root });
}

/** The driver that holds container `id` (its state directory is under `<root>/<driver>/`). */
export function driverOf(id: string, root: string, asked?: string): ManagedDriver {
  if (asked) return driverFor(asked, root);
  for (const name of driverNames()) {
    if (existsSync(join(root, name, id))) return driverFor(name, root);
  }
  throw new NotFoundError(id, root);
}
