/**
 * The one model of a container: the OCI runtime specification (v1.1). `buildSpec` decides a
 * Command's container (all policy), `validateSpec` checks any spec (a built one or a bundle's
 * config.json), and the backends render it: src/native/plan.ts (the C init's plan, and
 * container.json as a record), src/lxc/template.ts (config.lxc).
 */
export * from './types.js';
export { ANNOTATION, buildSpec, capabilityNames, DEFAULT_DEVICES, isBind, isTrue, namespaceOf, specNetwork, type SpecContext, type SpecNetwork } from './from-command.js';
export { deviceModeOf, deviceRules, deviceRuleText, linuxResources, resourcesOf } from './resources.js';
export { validateSpec } from './validate.js';
export { ociState, SPEC_FILE } from './state.js';
export { readBundle } from './bundle.js';
