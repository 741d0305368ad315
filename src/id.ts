import { closeSync, openSync, readSync } from 'node:fs';
import { InvalidConfigError } from './errors.js';

/**
 * A new container id, as the CLI makes one: 12 hex characters from the kernel's RNG. A module of
 * its own, read from /dev/urandom (Web Crypto's global, where that cannot be read), so that the
 * command line loads neither node:crypto nor Web Crypto's modules (~3-6 ms; issue 13, start-up).
 */
export function generateId(): string {
  const bytes = Buffer.alloc(6);
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      if (readSync(fd, bytes) === bytes.length) return bytes.toString('hex');
    } finally {
      closeSync(fd);
    }
  } catch {
    /* no /dev/urandom here */
  }
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(6))).toString('hex');
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A container id: checked before it names any path under the state root (`..`, `../network` never do). */
export function validateId(id: unknown): string {
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    throw new InvalidConfigError(
      `invalid container id ${JSON.stringify(id)}: 1 to 64 characters of letters, digits, '_', '.', '-', starting with a letter or digit`,
    );
  }
  return id;
}
