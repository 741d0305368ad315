import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createDriverFrom, driverNames, type ManagedDriver } from '../driver.js';
import { NotFoundError } from '../errors.js';
import { validateId } from '../command.js';
import { readFileSync } from 'node:fs';
import '../index.js'; // registers the drivers

export function driverFor(name: string | undefined, root: string): ManagedDriver {
  return createDriverFrom(name ?? 'native', { root });
}

/** The driver that holds container `id` (its state directory is under `<root>/<driver>/`). */
export function driverOf(id: string, root: string, asked?: string): ManagedDriver {
  validateId(id); // `..`, `../network`: never a path under the root
  if (asked) return driverFor(asked, root);
  for (const name of driverNames()) {
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
