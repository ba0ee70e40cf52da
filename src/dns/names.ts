/**
 * Domain names inside realmgw are canonical strings: lowercase, no trailing dot, the root is "".
 * Comparisons are label-aware: "evilgwa.demo" is not inside "gwa.demo".
 */

export function canonicalName(name: string): string {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  return trimmed.toLowerCase();
}

/** True when `name` equals `zone` or lies below it, on a label boundary. */
export function isInZone(name: string, zone: string): boolean {
  if (zone === '') return true;
  if (name.length === zone.length) return name === zone;
  return name.length > zone.length && name.endsWith(zone) && name.charCodeAt(name.length - zone.length - 1) === 46; // '.'
}

/** The name one label up, or undefined at the root. */
export function parentName(name: string): string | undefined {
  if (name === '') return undefined;
  const dot = name.indexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1);
}

/** Absolute presentation form for dns-packet, which treats every name as absolute anyway. */
export function presentation(name: string): string {
  return name === '' ? '.' : name;
}

export function reverseName(ipv4: string): string {
  return `${ipv4.split('.').reverse().join('.')}.in-addr.arpa`;
}
