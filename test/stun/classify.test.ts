import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  classify5780,
  classifyClassic,
  type ClassicObservations,
  type Classification,
  type Rfc5780Observations,
} from '../../src/stun/classify.js';

const EI = 'endpoint-independent';
const AD = 'address-dependent';
const APD = 'address-and-port-dependent';
const UNK = 'unknown';

describe('RFC 5780 classification', () => {
  // [description, observations, expected]
  const table: [string, Rfc5780Observations, Classification][] = [
    ['no NAT, answers from anywhere', { mappedIsLocal: true, mappingII: 'not-run', mappingIII: 'not-run', filteringII: 'response', filteringIII: 'not-run' }, { mapping: EI, filtering: EI, classic: 'open' }],
    ['no NAT, stateful firewall per address', { mappedIsLocal: true, mappingII: 'not-run', mappingIII: 'not-run', filteringII: 'no-response', filteringIII: 'response' }, { mapping: EI, filtering: AD, classic: 'symmetric udp firewall' }],
    ['no NAT, stateful firewall per address and port', { mappedIsLocal: true, mappingII: 'not-run', mappingIII: 'not-run', filteringII: 'no-response', filteringIII: 'no-response' }, { mapping: EI, filtering: APD, classic: 'symmetric udp firewall' }],
    ['no NAT, server cannot change address', { mappedIsLocal: true, mappingII: 'not-run', mappingIII: 'not-run', filteringII: 'unsupported', filteringIII: 'not-run' }, { mapping: EI, filtering: UNK, classic: 'unknown' }],
    ['full cone', { mappedIsLocal: false, mappingII: 'same', mappingIII: 'same', filteringII: 'response', filteringIII: 'not-run' }, { mapping: EI, filtering: EI, classic: 'full cone' }],
    ['restricted cone', { mappedIsLocal: false, mappingII: 'same', mappingIII: 'same', filteringII: 'no-response', filteringIII: 'response' }, { mapping: EI, filtering: AD, classic: 'restricted' }],
    ['port restricted cone (Linux masquerade)', { mappedIsLocal: false, mappingII: 'same', mappingIII: 'same', filteringII: 'no-response', filteringIII: 'no-response' }, { mapping: EI, filtering: APD, classic: 'port restricted' }],
    ['EI mapping, test III not needed', { mappedIsLocal: false, mappingII: 'same', mappingIII: 'not-run', filteringII: 'no-response', filteringIII: 'no-response' }, { mapping: EI, filtering: APD, classic: 'port restricted' }],
    ['address-dependent mapping', { mappedIsLocal: false, mappingII: 'different', mappingIII: 'same', filteringII: 'no-response', filteringIII: 'no-response' }, { mapping: AD, filtering: APD, classic: 'symmetric' }],
    ['address-and-port-dependent mapping (fully random)', { mappedIsLocal: false, mappingII: 'different', mappingIII: 'different', filteringII: 'no-response', filteringIII: 'no-response' }, { mapping: APD, filtering: APD, classic: 'symmetric' }],
    ['symmetric even when it lets everything in', { mappedIsLocal: false, mappingII: 'different', mappingIII: 'different', filteringII: 'response', filteringIII: 'not-run' }, { mapping: APD, filtering: EI, classic: 'symmetric' }],
    ['mapping changes but test III unanswered', { mappedIsLocal: false, mappingII: 'different', mappingIII: 'no-response', filteringII: 'no-response', filteringIII: 'no-response' }, { mapping: UNK, filtering: APD, classic: 'unknown' }],
    ['mapping changes, no alternate port (test III not run)', { mappedIsLocal: false, mappingII: 'different', mappingIII: 'not-run', filteringII: 'no-response', filteringIII: 'unsupported' }, { mapping: UNK, filtering: UNK, classic: 'unknown' }],
    ['alternate address never answers', { mappedIsLocal: false, mappingII: 'no-response', mappingIII: 'no-response', filteringII: 'no-response', filteringIII: 'no-response' }, { mapping: UNK, filtering: APD, classic: 'unknown' }],
    ['server refuses CHANGE-REQUEST (420)', { mappedIsLocal: false, mappingII: 'same', mappingIII: 'same', filteringII: 'unsupported', filteringIII: 'not-run' }, { mapping: EI, filtering: UNK, classic: 'unknown' }],
    ['change-port answered from the wrong place', { mappedIsLocal: false, mappingII: 'same', mappingIII: 'same', filteringII: 'no-response', filteringIII: 'unsupported' }, { mapping: EI, filtering: UNK, classic: 'unknown' }],
  ];
  for (const [name, obs, want] of table) {
    it(name, () => assert.deepEqual(classify5780(obs), want));
  }
});

describe('RFC 3489 classic classification', () => {
  const table: [string, ClassicObservations, Classification][] = [
    ['open Internet', { mappedIsLocal: true, testII: 'response', testIII: 'not-run', testIb: 'not-run' }, { mapping: EI, filtering: EI, classic: 'open' }],
    ['symmetric UDP firewall', { mappedIsLocal: true, testII: 'no-response', testIII: 'no-response', testIb: 'not-run' }, { mapping: EI, filtering: APD, classic: 'symmetric udp firewall' }],
    ['full cone', { mappedIsLocal: false, testII: 'response', testIII: 'not-run', testIb: 'not-run' }, { mapping: EI, filtering: EI, classic: 'full cone' }],
    ['symmetric', { mappedIsLocal: false, testII: 'no-response', testIII: 'no-response', testIb: 'different' }, { mapping: UNK, filtering: APD, classic: 'symmetric' }],
    ['restricted', { mappedIsLocal: false, testII: 'no-response', testIII: 'response', testIb: 'same' }, { mapping: EI, filtering: AD, classic: 'restricted' }],
    ['port restricted', { mappedIsLocal: false, testII: 'no-response', testIII: 'no-response', testIb: 'same' }, { mapping: EI, filtering: APD, classic: 'port restricted' }],
    ['changed address never answers', { mappedIsLocal: false, testII: 'no-response', testIII: 'no-response', testIb: 'no-response' }, { mapping: UNK, filtering: APD, classic: 'unknown' }],
    ['server cannot change address', { mappedIsLocal: false, testII: 'unsupported', testIII: 'not-run', testIb: 'same' }, { mapping: EI, filtering: UNK, classic: 'unknown' }],
  ];
  for (const [name, obs, want] of table) {
    it(name, () => assert.deepEqual(classifyClassic(obs), want));
  }
});
