/**
 * IPVS of the fake kernel: TCP and UDP virtual services on IPv4 with their real servers, changed by single
 * ipvsadm calls (IPVS has no transactions: each call is applied or refused on its own) and read by
 * `ipvsadm -S -n` and `ipvsadm -L -n --stats --exact` (counters read zero). Refused like the kernel: adding a
 * service or real server that is there, deleting one that is not, a real server of a missing service. Other
 * calls (fwmark services, -C, -E, -e, ...) are refused as not understood.
 */
import { FakeRefusal } from './text.js';

interface Service {
  scheduler: string;
  options: string[];
  /** "addr:port" -> forwarding flag and weight, in the order added */
  reals: Map<string, { forwarding: string; weight: number }>;
}

const FLAGS = new Set(['-t', '-u']);
const FORWARDING = new Set(['-m', '-g', '-i']);

export class FakeIpvs {
  /** "-t 1.2.3.4:80" -> service */
  services = new Map<string, Service>();

  command(args: readonly string[]): string {
    const line = args.join(' ');
    if (line === '-S -n') return this.save();
    if (line === '-L -n --stats --exact') return this.stats();
    const [op, flag, target, ...rest] = args;
    if (!flag || !FLAGS.has(flag) || !target || !/^\d+\.\d+\.\d+\.\d+:\d+$/.test(target)) fail(`not understood by the fake kernel: ${line}`);
    const key = `${flag} ${target}`;
    const service = this.services.get(key);
    const opt = (name: string) => {
      const i = rest.indexOf(name);
      return i < 0 ? undefined : rest[i + 1];
    };
    switch (op) {
      case '-A': {
        if (service) fail('Service already exists');
        const scheduler = opt('-s') ?? 'wlc';
        const options = rest.filter((_, i) => rest[i] !== '-s' && rest[i - 1] !== '-s');
        this.services.set(key, { scheduler, options, reals: new Map() });
        return '';
      }
      case '-D':
        if (rest.length) fail(`not understood by the fake kernel: ${line}`);
        if (!this.services.delete(key)) fail('No such service');
        return '';
      case '-a':
      case '-d': {
        const real = opt('-r');
        if (!real || !/^\d+\.\d+\.\d+\.\d+:\d+$/.test(real)) fail(`not understood by the fake kernel: ${line}`);
        const s = service ?? fail('No such service');
        if (op === '-d') {
          if (!s.reals.delete(real!)) fail('No such destination');
          return '';
        }
        if (s.reals.has(real!)) fail('Destination already exists');
        const forwarding = rest.find((w) => FORWARDING.has(w)) ?? '-g';
        s.reals.set(real!, { forwarding, weight: Number(opt('-w') ?? 1) });
        return '';
      }
      default:
        return fail(`not understood by the fake kernel: ${line}`);
    }
  }

  save(): string {
    const out: string[] = [];
    for (const [key, s] of this.services) {
      out.push(`-A ${key} -s ${s.scheduler}${s.options.length ? ` ${s.options.join(' ')}` : ''}`);
      for (const [real, r] of s.reals) out.push(`-a ${key} -r ${real} ${r.forwarding} -w ${r.weight}`);
    }
    return out.map((l) => `${l}\n`).join('');
  }

  private stats(): string {
    const out = ['IP Virtual Server version 1.2.1 (size=4096)', 'Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes', '  -> RemoteAddress:Port'];
    for (const [key, s] of this.services) {
      const [flag, target] = key.split(' ');
      out.push(`${flag === '-t' ? 'TCP' : 'UDP'}  ${target}  0  0  0  0  0`);
      for (const real of s.reals.keys()) out.push(`  -> ${real}  0  0  0  0  0`);
    }
    return out.join('\n') + '\n';
  }
}

const fail = (why: string): never => {
  throw new FakeRefusal(why);
};
