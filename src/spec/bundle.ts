/**
 * An OCI bundle (a directory with `config.json` and, usually, the root filesystem): its spec,
 * read and checked by validateSpec like a built one, `root.path` made absolute against the
 * bundle (the specification allows it relative).
 */
import { dropEngineZeros } from './engine-zeros.js';
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { InvalidConfigError } from '../errors.js';
import { SPEC_FILE } from './state.js';
import type { Spec } from './types.js';
import { validateSpec } from './validate.js';

export function readBundle(bundle: string, containerId?: string): Spec {
  const dir = resolve(bundle);
  const file = resolve(dir, SPEC_FILE);
  const details = { ...(containerId ? { containerId } : {}), path: file };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InvalidConfigError(`bundle ${dir}: cannot read ${SPEC_FILE}: ${(e as Error).message}`, { ...details, cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InvalidConfigError(`bundle ${dir}: ${SPEC_FILE} is not JSON: ${(e as Error).message}`, { ...details, cause: e });
  }
  const spec = validateSpec(dropEngineZeros(json), containerId);
  const root = isAbsolute(spec.root!.path) ? spec.root!.path : resolve(dir, spec.root!.path);
  let st;
  try {
    st = statSync(root);
  } catch (e) {
    throw new InvalidConfigError(`root.path ${root} does not exist`, { ...details, path: root, cause: e });
  }
  if (!st.isDirectory()) throw new InvalidConfigError(`root.path ${root} is not a directory`, { ...details, path: root });
  return { ...spec, root: { ...spec.root!, path: root } };
}
