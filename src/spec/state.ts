import { OCI_VERSION, type ContainerStatus, type State } from './types.js';

/** Where both drivers keep a container's spec: `<root>/<driver>/<id>/config.json` (a bundle's name for it). */
export const SPEC_FILE = 'config.json';

/** The specification's state of a container (what `runc state` prints). */
export function ociState(id: string, status: ContainerStatus, bundle: string, pid?: number, annotations?: Record<string, string>): State {
  return {
    ociVersion: OCI_VERSION,
    id,
    status,
    ...(pid !== undefined && pid > 0 && status !== 'stopped' ? { pid } : {}),
    bundle,
    ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
  };
}
