// Two connected sockets relayed both ways with backpressure: a chunk is written on, and when the other side's
// buffer is over its high-water mark the reading side is paused until 'drain'. So a peer that stops reading
// makes the relay stop reading from the other peer, and the kernel's windows push back to the sender; the
// relay holds one high-water mark plus a read chunk or two per direction, whatever the peers do.
// Half-close passes through (a FIN from one side ends the write side toward the other), which needs both
// sockets created with allowHalfOpen.
import type { Socket } from 'node:net';

export interface SpliceCounters {
  toUpstream: number;
  toClient: number;
  /** the largest write buffer seen on any relayed socket right after a write */
  peakBuffered: number;
}

export interface SpliceOptions {
  counters: SpliceCounters;
  /** no byte in either direction for this long: both sockets are destroyed */
  idleTimeoutMs: number;
  onIdle(): void;
  /** an error on either socket (both are destroyed right after) */
  onError(side: 'client' | 'upstream', err: Error): void;
}

/**
 * Starts relaying. `initial` is written to the upstream first (a PROXY header, the head already read). The
 * client must be paused (it is resumed here when the upstream can take more).
 */
export function splice(client: Socket, upstream: Socket, initial: Buffer[], opts: SpliceOptions): void {
  const c = opts.counters;
  const teardown = () => {
    client.destroy();
    upstream.destroy();
  };
  const pump = (src: Socket, dst: Socket, count: (n: number) => void) => {
    src.on('data', (chunk: Buffer) => {
      count(chunk.length);
      if (!dst.write(chunk)) {
        src.pause();
        dst.once('drain', () => src.resume());
      }
      if (dst.writableLength > c.peakBuffered) c.peakBuffered = dst.writableLength;
    });
    src.on('end', () => dst.end());
  };
  for (const [side, s] of [['client', client], ['upstream', upstream]] as const) {
    s.on('error', (err) => {
      opts.onError(side, err);
      teardown();
    });
    // A clean close means both directions finished (see above); a close after an error or a reset is not
    s.on('close', (hadError) => {
      if (hadError) teardown();
    });
  }
  // Activity in either direction reads or writes the client socket, so its timer alone measures idleness
  client.setTimeout(opts.idleTimeoutMs, () => {
    opts.onIdle();
    teardown();
  });

  let ready = true;
  for (const b of initial) {
    c.toUpstream += b.length;
    ready = upstream.write(b);
  }
  pump(client, upstream, (n) => (c.toUpstream += n));
  pump(upstream, client, (n) => (c.toClient += n));
  if (ready) client.resume();
  else upstream.once('drain', () => client.resume());
}
