/**
 * Errors built from the catalogue: the code picks the message template, and the compiler checks that the
 * thrower fills exactly the template's `{slots}`, so a message cannot drift from what the README documents.
 */
import { CATALOGUE, type CatalogueEntry, type ErrorCode } from './catalogue.js';

type Slots<T extends string> = T extends `${string}{${infer K}}${infer Rest}` ? K | Slots<Rest> : never;

/** The values a code's message template needs, by slot name. */
export type ErrorParams<C extends ErrorCode> = { readonly [K in Slots<(typeof CATALOGUE)[C]['message']>]: string | number };

export function errorMessage<C extends ErrorCode>(code: C, params: ErrorParams<C>): string {
  const values = params as Record<string, string | number>;
  // One pass over the template: braces inside a value (a YAML snippet, nft's stderr) are left alone.
  return CATALOGUE[code].message.replace(/\{(\w+)\}/g, (_, slot: string) => String(values[slot]));
}

/** The exit status the catalogue gives `code`; undefined for errors that are not meant to end a command. */
export function exitStatusOf(code: ErrorCode): number | undefined {
  const entry: CatalogueEntry = CATALOGUE[code];
  return entry.exit;
}

/** An error with a catalogued code; classes that keep their own fields (KernelStateError's step) need not extend it. */
export class RealmgwError<C extends ErrorCode = ErrorCode> extends Error {
  constructor(
    readonly code: C,
    params: ErrorParams<C>,
    options?: ErrorOptions,
  ) {
    super(errorMessage(code, params), options);
    this.name = 'RealmgwError';
  }
}
