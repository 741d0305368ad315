/**
 * The devices controller: the device allow-list. v1 writes `devices.deny`/`devices.allow`; on v2
 * the same list becomes a BPF_CGROUP_DEVICE program (../devicefilter.ts renders it, the native
 * driver's C init attaches it), so nothing is written here.
 */
import type { CgroupWrite } from '../resources.js';

/**
 * `default`: Docker's device allow-list; `allow-all`: privileged; `{ extra }`: the allow-list
 * plus these v1 rules (`c 10:229 rwm`: the devices a container was given, `--device`).
 */
export type DeviceMode = 'default' | 'allow-all' | { readonly extra: readonly string[] };

/** The allow rules of a mode that is not allow-all. */
export const allowRulesOf = (mode: DeviceMode): readonly string[] =>
  typeof mode === 'object' ? [...DEFAULT_DEVICE_RULES, ...mode.extra] : DEFAULT_DEVICE_RULES;

/** Docker 0.11's device allow-list (after `devices.deny a`). */
export const DEFAULT_DEVICE_RULES: readonly string[] = [
  'c *:* m', // mknod any character device
  'b *:* m', // mknod any block device
  'c 1:3 rwm', // /dev/null
  'c 1:5 rwm', // /dev/zero
  'c 1:7 rwm', // /dev/full
  'c 1:8 rwm', // /dev/random
  'c 1:9 rwm', // /dev/urandom
  'c 5:0 rwm', // /dev/tty
  'c 5:1 rwm', // /dev/console
  'c 5:2 rwm', // /dev/ptmx
  'c 4:0 rwm', // /dev/tty0
  'c 4:1 rwm', // /dev/tty1
  'c 136:* rwm', // /dev/pts/*
  'c 10:200 rwm', // /dev/net/tun
];

/** v1 writes: deny everything, then allow the list (or allow everything). */
export function renderDevicesV1(devices: DeviceMode): CgroupWrite[] {
  if (devices === 'allow-all') return [{ controller: 'devices', file: 'devices.allow', value: 'a', field: 'devices' }];
  return [
    { controller: 'devices', file: 'devices.deny', value: 'a', field: 'devices' },
    ...allowRulesOf(devices).map((rule): CgroupWrite => ({ controller: 'devices', file: 'devices.allow', value: rule, field: 'devices' })),
  ];
}
