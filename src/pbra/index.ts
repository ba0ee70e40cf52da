export { Pbra, requesterLabel, type Address, type AdmitQuery, type IdentifyQuery, type Party } from './pbra.js';
export { decide, budgetLimit, passesTiers, requestKind, type Admission } from './admission.js';
export { DEMO_TIERS, MIDDLE, type GroupSpec, type PbraSettings, type Proof, type RequestKind, type Tier } from './model.js';
export { pbraSection, type PbraSection } from './schema.js';
export { resolvePbraSection, DEFAULT_PROOFS, type ResolvedPbra } from './settings.js';
export { parseRgwPolicy, type RgwPolicy } from './rgw-policy.js';
export { ReputationBook } from './reputation.js';
export type { ReputationView, GroupRow, RequesterRow } from './view.js';
export { RequesterHoldings } from './holdings.js';
