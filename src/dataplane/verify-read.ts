/**
 * The reads drift verification compares (kernel-verify.ts decides): our nft table through a Runner, and this
 * process's NFQUEUE binding from /proc (the network namespace the process runs in).
 *
 * The table is listed terse (`nft -t`: no set elements) and each static set on its own: a full listing holds
 * nf_tables' lock for as long as it dumps every live reservation, and each reservation's element batch waits
 * for it (ruleset.ts, refreshKernelCounters).
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { NftError } from './kernel-channel.js';
import { netlinkPortIds, nftSnapshot, parseQueueBindings, staticSetNames, type NftSnapshot } from './kernel-verify.js';
import type { Runner } from './runner.js';

const MISSING = /No such file or directory/;

/**
 * Our table reduced to what counts; undefined when it is not there (or nft is not installed).
 * `staticElements` false: no set's elements count (the workers' lease maps change with every registration).
 */
export async function readNftSnapshot(runner: Runner, table: string, staticElements = true): Promise<NftSnapshot | undefined> {
  const r = await runner.run('nft', ['-t', '-j', 'list', 'table', 'ip', table]);
  if (r.code === 127 || (r.code !== 0 && MISSING.test(r.stderr))) return undefined;
  if (r.code !== 0) throw new NftError(`nft -t -j list table ip ${table}: ${r.stderr.trim()}`);
  const sets: string[] = [];
  for (const s of staticElements ? staticSetNames(table, r.stdout) : []) {
    const l = await runner.run('nft', ['-j', 'list', s.kind, 'ip', table, s.name]);
    // gone between the two listings: the snapshot without it reports it missing
    if (l.code === 0) sets.push(l.stdout);
    else if (!MISSING.test(l.stderr)) throw new NftError(`nft -j list ${s.kind} ip ${table} ${s.name}: ${l.stderr.trim()}`);
  }
  return nftSnapshot(table, r.stdout, sets);
}

/** Queue number -> portid of the socket bound to it, in this process's network namespace. */
export async function readQueueBindings(): Promise<Map<number, number>> {
  const text = await readFile('/proc/net/netfilter/nfnetlink_queue', 'utf8').catch(() => '');
  return parseQueueBindings(text);
}

/** Portids of this process's netlink sockets (its fds that are sockets, looked up in /proc/net/netlink). */
export async function ourNetlinkPortIds(): Promise<Set<number>> {
  const inodes = new Set<number>();
  for (const fd of await readdir('/proc/self/fd').catch(() => [] as string[])) {
    const link = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(Number(m[1]));
  }
  return netlinkPortIds(await readFile('/proc/net/netlink', 'utf8').catch(() => ''), inodes);
}
