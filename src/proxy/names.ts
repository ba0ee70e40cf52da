// The one spelling of a name that the relay hands to its resolver, whether it came from an HTTP Host header or
// a TLS server_name: lower case, no trailing dot. Anything that is not a DNS host name (IP literals included)
// is rejected here, so a resolver never sees bytes a client made up beyond letters, digits, '-', '_' and dots.

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** The canonical form of `raw`, or undefined when it is not a host name. */
export function canonicalName(raw: string): string | undefined {
  let name = raw.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0 || name.length > 253) return undefined;
  const labels = name.split('.');
  if (!labels.every((l) => LABEL.test(l))) return undefined;
  // A dotted quad is an address, not a name of the policies (RFC 6066 forbids it in SNI as well).
  if (labels.length === 4 && labels.every((l) => /^[0-9]+$/.test(l))) return undefined;
  return name;
}
