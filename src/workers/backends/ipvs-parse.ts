/**
 * Reading what IPVS holds, from ipvsadm's text: the rule dump (`ipvsadm -S -n`) for ownership decisions and
 * rollback checks, and the statistics listing (`ipvsadm -L -n --stats --exact`) for accounting. Pure.
 */
import type { ErrorCode } from '../../errors/catalogue.js';
import { errorMessage } from '../../errors/realmgw-error.js';
import type { Counters } from '../accounting.js';

export type IpvsProtocol = 'tcp' | 'udp' | 'sctp';
export type IpvsForwarding = 'masq' | 'route' | 'tunnel';

export interface IpvsReal {
  readonly address: string;
  readonly port: number;
  readonly forwarding: IpvsForwarding;
  readonly weight: number;
}

/** A virtual service as `ipvsadm -S -n` prints it; fwmark services have no address, protocol or port. */
export interface IpvsService {
  /** `-t 1.2.3.4:80` etc. exactly as printed: the service's identity on ipvsadm's command line. */
  readonly spec: readonly [flag: string, target: string];
  readonly protocol?: IpvsProtocol;
  readonly address?: string;
  readonly port?: number;
  readonly scheduler: string;
  /** -p, -M, -b, --pe or -o: anything that makes it behave unlike a plain service. */
  readonly options: readonly string[];
  readonly reals: readonly IpvsReal[];
}

export class IpvsParseError extends Error {
  readonly code = 'RGW_IPVS_PARSE' satisfies ErrorCode;
  constructor(message: string) {
    super(errorMessage('RGW_IPVS_PARSE', { reason: message }));
    this.name = 'IpvsParseError';
  }
}

const PROTOCOL_FLAGS: Readonly<Record<string, IpvsProtocol>> = { '-t': 'tcp', '-u': 'udp', '--sctp-service': 'sctp' };
const FORWARDING_FLAGS: Readonly<Record<string, IpvsForwarding>> = { '-m': 'masq', '-g': 'route', '-i': 'tunnel' };

/** `1.2.3.4:80` -> address and port; IPv6 (`[::1]:80`) and fwmarks give undefined. */
function splitAddressPort(text: string): { address: string; port: number } | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text);
  return m ? { address: m[1], port: Number(m[2]) } : undefined;
}

function serviceKeyOf(flag: string, target: string): string {
  return `${flag} ${target}`;
}

/** Parses `ipvsadm -S -n` (also what `ipvsadm -R` reads). Lines it does not understand are errors. */
export function parseIpvsSave(text: string): IpvsService[] {
  const services = new Map<string, { service: Omit<IpvsService, 'reals'>; reals: IpvsReal[] }>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const words = line.split(/\s+/);
    const [command, flag, target] = words;
    const where = `ipvsadm -S line ${i + 1}`;
    if ((command !== '-A' && command !== '-a') || !flag || !target || !(flag in PROTOCOL_FLAGS || flag === '-f')) {
      throw new IpvsParseError(`${where}: unexpected ${JSON.stringify(line)}`);
    }
    const key = serviceKeyOf(flag, target);
    const rest = words.slice(3);
    if (command === '-A') {
      const at = flag === '-f' ? undefined : splitAddressPort(target);
      let scheduler = '';
      const options: string[] = [];
      for (let j = 0; j < rest.length; j++) {
        if (rest[j] === '-s') scheduler = rest[++j] ?? '';
        else options.push(rest[j]);
      }
      services.set(key, {
        service: { spec: [flag, target], protocol: PROTOCOL_FLAGS[flag], address: at?.address, port: at?.port, scheduler, options },
        reals: [],
      });
      return;
    }
    const owner = services.get(key);
    if (!owner) throw new IpvsParseError(`${where}: real server of unknown service ${key}`);
    let real: { address: string; port: number } | undefined;
    let forwarding: IpvsForwarding | undefined;
    let weight = 1;
    for (let j = 0; j < rest.length; j++) {
      const w = rest[j];
      if (w === '-r') real = splitAddressPort(rest[++j] ?? '') ?? { address: rest[j] ?? '', port: 0 };
      else if (w in FORWARDING_FLAGS) forwarding = FORWARDING_FLAGS[w];
      else if (w === '-w') weight = Number(rest[++j]);
      else if (w === '-x' || w === '-y' || w === '--tun-type' || w === '--tun-port') j++;
    }
    if (!real || !forwarding || !Number.isInteger(weight)) throw new IpvsParseError(`${where}: incomplete real server ${JSON.stringify(line)}`);
    owner.reals.push({ ...real, forwarding, weight });
  });
  return [...services.values()].map(({ service, reals }) => ({ ...service, reals }));
}

export interface IpvsServiceStats {
  readonly protocol: IpvsProtocol;
  readonly address: string;
  readonly port: number;
  readonly counters: Counters;
}

const STATS_PROTOCOLS: Readonly<Record<string, IpvsProtocol>> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

/**
 * Per-service totals from `ipvsadm -L -n --stats --exact` (the service line sums its real servers). Without
 * --exact ipvsadm abbreviates (`12K`), which would corrupt accounting, so such numbers are errors.
 */
export function parseIpvsStats(text: string): IpvsServiceStats[] {
  const out: IpvsServiceStats[] = [];
  for (const raw of text.split('\n')) {
    const words = raw.trim().split(/\s+/);
    const protocol = STATS_PROTOCOLS[words[0] ?? ''];
    if (!protocol) continue; // headings, real-server lines (`->`), fwmark services (FWM)
    const at = splitAddressPort(words[1] ?? '');
    if (!at) continue; // IPv6 services
    const numbers = words.slice(2, 7);
    if (numbers.length !== 5 || words.length !== 7 || numbers.some((n) => !/^\d+$/.test(n))) {
      throw new IpvsParseError(`ipvsadm --stats: not five exact counters in ${JSON.stringify(raw.trim())} (was --exact given?)`);
    }
    const [connections, packetsIn, packetsOut, bytesIn, bytesOut] = numbers.map(Number);
    out.push({ protocol, ...at, counters: { connections, packetsIn, packetsOut, bytesIn, bytesOut } });
  }
  return out;
}
