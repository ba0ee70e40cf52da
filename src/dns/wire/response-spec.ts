/**
 * What an answer says, before it is bytes: the language between deciding (answer/decide.ts) and encoding
 * (encode-response.ts). Two things in an answer are not known when it is decided, because they differ per
 * query, and the spec names them instead of standing in a value for them: the question's name (its spelling
 * is the client's, 0x20) and the address a reservation picks. The encoder records where each goes, so a
 * template is filled by offset and never searched.
 */

/** A resource record in dns-packet's shape, owner as a canonical name: what zones and worker names hold. */
export interface Record {
  name: string;
  type: string;
  ttl: number;
  data: unknown;
}

/** Owner of a record that is the question's name, whoever asked and however they spelt it. */
export const QUESTION_NAME: unique symbol = Symbol('question name');

/** RDATA of the A record whose address a reservation fills in, per query. */
export const ADDRESS_SLOT: unique symbol = Symbol('address slot');

/** A record of an answer: a zone's record, or one owned by the question, or the A record with the address slot. */
export interface AnswerRecord {
  name: string | typeof QUESTION_NAME;
  type: string;
  ttl: number;
  data: unknown;
}

/** A whole answer; at most one of its records holds ADDRESS_SLOT (a template has one address offset). */
export interface ResponseSpec {
  rcode: number;
  authoritative: boolean;
  /** Recursion available: set on the LAN view, where we forward for the hosts. */
  recursionAvailable?: boolean;
  answers: AnswerRecord[];
  authorities: AnswerRecord[];
  additionals: AnswerRecord[];
}

/** The A record a reservation completes: written with its address bytes zero, filled per query. */
export function addressSlot(name: AnswerRecord['name'], ttl: number): AnswerRecord {
  return { name, type: 'A', ttl, data: ADDRESS_SLOT };
}

/** The record's owner as a canonical name, `question` standing for QUESTION_NAME. */
export function ownerName(rr: AnswerRecord, question: string): string {
  return rr.name === QUESTION_NAME ? question : rr.name;
}
