import { InvalidConfigError } from './errors.js';

/**
 * A new container id, as the CLI makes one: 12 hex characters from the crypto RNG. A module of its
 * own, on Web Crypto's global (loaded on first use), so that the command line's flag parsing does
 * not load node:crypto or the modules of src/command.ts (issue 13, start-up).
 */
export function generateId(): string {
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
