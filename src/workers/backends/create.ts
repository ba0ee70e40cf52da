/** The configured mapping backend for the gateway's `workers:` section. */
import type { Logger } from 'pino';
import type { PortRange } from '../port-range.js';
import type { Runner } from '../../dataplane/runner.js';
import type { MappingBackend } from '../mapping-backend.js';
import { IpvsBackend } from './ipvs-backend.js';
import { NftMappingBackend } from './nft-backend.js';

/** What the choice needs of the `workers:` section (a type of its own: workers/ never imports config/). */
export interface BackendSettings {
  backend: 'nftables' | 'ipvs';
  publicAddress: string;
  privateAddress: string;
  privateNetwork: string;
  ports: PortRange;
}

export function createMappingBackend(section: BackendSettings, log: Logger, runner?: Runner): MappingBackend {
  const common = { publicAddress: section.publicAddress, privateAddress: section.privateAddress, privateNetwork: section.privateNetwork, runner };
  const child = log.child({ component: `workers-${section.backend}` });
  return section.backend === 'ipvs' ? new IpvsBackend({ ...common, ports: section.ports, log: child }) : new NftMappingBackend({ ...common, log: child });
}
