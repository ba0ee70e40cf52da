/**
 * Where the loader found each host's values, kept beside the model (the model's interfaces stay plain data) so
 * that crossCheck can point at file, key path and line.
 */

import type { SubscriberHost } from './types.js';
import type { Path } from './yaml-walk.js';

export interface HostSource {
  /** The top-level key as written, e.g. 'hosta.gwa.demo.'. */
  key: string;
  file: string;
  lines: Map<string, number>;
}

const sources = new WeakMap<SubscriberHost, HostSource>();

export function setHostSource(host: SubscriberHost, source: HostSource): void {
  sources.set(host, source);
}

/** The recorded source of a host, or a best guess (no lines) for hosts built elsewhere. */
export function hostSource(host: SubscriberHost): HostSource {
  return sources.get(host) ?? { key: host.id + '.', file: host.file, lines: new Map() };
}

export function pathKey(path: Path): string {
  return JSON.stringify(path);
}

export function lineAt(source: HostSource, path: Path): number | undefined {
  return source.lines.get(pathKey(path));
}
