/**
 * The addon's process helpers (kernel/nfqueue/src/process.c): a datagram to systemd's notification socket and
 * a non-blocking flock. Node offers neither (no Unix datagram sockets, no flock).
 */
import { loadNativeAddon } from '../dataplane/addon.js';

export interface ProcessCalls {
  /** One datagram to `socket` (a path, or `@name` for an abstract socket); throws with an errno code. */
  sdNotify(socket: string, message: string): void;
  /** flock(fd, LOCK_EX | LOCK_NB): true when taken, false when held elsewhere; throws on other errors. */
  flockTry(fd: number): boolean;
}

export const processCalls = (): ProcessCalls => loadNativeAddon<ProcessCalls>();
