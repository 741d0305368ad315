/**
 * A new container id, as the CLI makes one: 12 hex characters from the crypto RNG. A module of its
 * own, on Web Crypto's global (loaded on first use), so that the command line's flag parsing does
 * not load node:crypto or the modules of src/command.ts (issue 13, start-up).
 */
export function generateId(): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(6))).toString('hex');
}
