/**
 * Docker's --dns, --dns-search and --add-host (issue 12, part cli): applied to the /etc files
 * the network code wrote for a bridge container (files.ts), after it wrote them.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { InvalidConfigError } from '../errors.js';
import type { ContainerNetFiles } from './files.js';
import { validateHostname } from './validate.js';

export interface EtcExtras {
  dns?: string[];
  dnsSearch?: string[];
  extraHosts?: { host: string; ip: string }[];
}

/** Checked extras (InvalidConfigError naming the field). */
export function checkEtcExtras(v: { dns?: unknown; dnsSearch?: unknown; extraHosts?: unknown }, id: string): EtcExtras {
  const out: EtcExtras = {};
  const list = (x: unknown, field: string): unknown[] => {
    if (x === undefined) return [];
    if (!Array.isArray(x)) throw new InvalidConfigError(`${field}: must be an array`, { containerId: id });
    return x;
  };
  const dns = list(v.dns, 'dns').map((a, i) => {
    if (typeof a !== 'string' || !isIP(a)) throw new InvalidConfigError(`dns[${i}]: ${JSON.stringify(a)} is not an IP address`, { containerId: id });
    return a;
  });
  const search = list(v.dnsSearch, 'dnsSearch').map((d, i) => {
    if (d === '.') return d;
    try {
      return validateHostname(d, `dnsSearch[${i}]`);
    } catch (e) {
      throw new InvalidConfigError((e as Error).message, { containerId: id });
    }
  });
  const hosts = list(v.extraHosts, 'extraHosts').map((h, i) => {
    const o = h as { host?: unknown; ip?: unknown };
    if (typeof o !== 'object' || o === null || typeof o.ip !== 'string' || !isIP(o.ip)) {
      throw new InvalidConfigError(`extraHosts[${i}]: needs { host, ip } with an IP address`, { containerId: id });
    }
    try {
      validateHostname(o.host, `extraHosts[${i}].host`);
    } catch (e) {
      throw new InvalidConfigError((e as Error).message, { containerId: id });
    }
    return { host: o.host as string, ip: o.ip };
  });
  if (dns.length) out.dns = dns;
  if (search.length) out.dnsSearch = search;
  if (hosts.length) out.extraHosts = hosts;
  return out;
}

async function rewrite(path: string, change: (text: string) => string): Promise<void> {
  const text = change(await readFile(path, 'utf8'));
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}

/** Apply the extras to the written files: name servers and search list replaced, hosts added. */
export async function applyEtcExtras(files: ContainerNetFiles, e: EtcExtras | undefined): Promise<void> {
  if (!e) return;
  if (e.dns || e.dnsSearch) {
    await rewrite(files.resolvConf, (text) => {
      let lines = text.split('\n').filter((l) => l !== '');
      if (e.dns) lines = [...lines.filter((l) => !/^\s*nameserver\s/.test(l) && !/^# no nameserver/.test(l)), ...e.dns.map((a) => `nameserver ${a}`)];
      if (e.dnsSearch) lines = [...lines.filter((l) => !/^\s*(search|domain)\s/.test(l)), ...(e.dnsSearch.includes('.') ? [] : [`search ${e.dnsSearch.join(' ')}`])];
      return ['# with --dns/--dns-search (execdriver)', ...lines].join('\n') + '\n';
    });
  }
  if (e.extraHosts) await rewrite(files.hosts, (text) => text + e.extraHosts!.map((h) => `${h.ip}\t${h.host}`).join('\n') + '\n');
}
