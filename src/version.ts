import { readFileSync } from 'node:fs';

/**
 * The package's top directory. Only this module resolves paths against its own location: it is one
 * level under dist/ both compiled (dist/src/version.js) and bundled (dist/bundle/*.js).
 */
export const PACKAGE_ROOT = new URL('../../', import.meta.url);

let version: string | undefined;

/** This package's version, from package.json. */
export function packageVersion(): string {
  if (!version) {
    const pkg = JSON.parse(readFileSync(new URL('package.json', PACKAGE_ROOT), 'utf8')) as { version: string };
    version = pkg.version;
  }
  return version;
}
