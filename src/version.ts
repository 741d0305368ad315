import { readFileSync } from 'node:fs';

let version: string | undefined;

/** This package's version, from package.json. */
export function packageVersion(): string {
  if (!version) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    version = pkg.version;
  }
  return version;
}
