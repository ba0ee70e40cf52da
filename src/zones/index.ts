/** Zone loading: RFC 1035 master files into the zone model. */
export type { Zone, ZoneRecord, SoaData } from './types.js';
export { SUPPORTED_TYPES } from './types.js';
export { parseZoneText } from './parse.js';
export { loadZoneFolder } from './load.js';
export { isInZone, parseFqdn, parseZoneName, wireLength } from './names.js';
