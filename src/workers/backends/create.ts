/** The configured mapping backend for the gateway's `workers:` section. */
import type { Logger } from 'pino';
import type { WorkersSection } from '../../config/schema.js';
import type { Runner } from '../../dataplane/runner.js';
import type { MappingBackend } from './backend.js';
import { IpvsBackend } from './ipvs-backend.js';
import { NftMappingBackend } from './nft-backend.js';

export function createMappingBackend(section: WorkersSection, log: Logger, runner?: Runner): MappingBackend {
  const common = { publicAddress: section.publicAddress, privateAddress: section.privateAddress, privateNetwork: section.privateNetwork, runner };
  const child = log.child({ component: `workers-${section.backend}` });
  return section.backend === 'ipvs' ? new IpvsBackend({ ...common, ports: section.ports, log: child }) : new NftMappingBackend({ ...common, log: child });
}
