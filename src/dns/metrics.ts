/** Counters for the DNS front; plain numbers so the hot path pays an increment, nothing more. */
export class DnsMetrics {
  queriesUdp = 0;
  queriesTcp = 0;
  dropped = 0;
  malformed = 0;
  cacheHits = 0;
  allocations = 0;
  /** Exhausted pool or host cap, UDP: no answer so the resolver retries. */
  exhaustedUdpDropped = 0;
  /** Exhausted pool or host cap, TCP: empty answer after one retry. */
  exhaustedTcpEmpty = 0;
  /** Allocations that succeeded on the TCP retry. */
  tcpRetrySucceeded = 0;
  /** Reservations the data plane failed to install (query refused, reservation cancelled). */
  kernelFailed = 0;
  /** Unproven requesters answered with a challenge (TC, BADCOOKIE, CNAME) instead of a reservation. */
  challenged = 0;
  /** Proven requesters refused by reputation tier or budget. */
  policyRefused = 0;
  /** Allocating queries answered REFUSED while the gateway drains before stopping (lame duck). */
  drainingRefused = 0;
  forwarded = 0;
  /** Tries at an upstream that gave no usable reply; the next try goes to the next upstream. */
  forwardAttemptsFailed = 0;
  forwardFailed = 0;
  /** LAN queries refused because maxInFlight forwards were already waiting for upstreams (answered SERVFAIL). */
  forwardRefusedBusy = 0;
  /** Queries from a client outside the view's allowed networks: dropped unanswered, before parsing. */
  clientNotAllowed = 0;
  /** Errors while handling one query (a bug, or the handler refusing input): counted, logged throttled. */
  handlerErrors = 0;
  /** WAN answers withheld by response-rate limiting (Rrl verdict 'drop'). */
  rrlDropped = 0;
  /** WAN answers replaced by a truncated minimal reply by response-rate limiting (Rrl verdict 'slip'). */
  rrlSlipped = 0;
  tcpConnections = 0;
  /** Connections refused because tcpMaxConnections were open. */
  tcpRejected = 0;
  /** Connections refused because their source address already had tcpMaxConnectionsPerSource open. */
  tcpRejectedPerSource = 0;
  /** Connections closed at tcpMaxLifetimeMs (RFC 7766 §6.2.3), busy or not. */
  tcpLifetimeClosed = 0;
  /** Connections closed after tcpIdleTimeoutMs without traffic. */
  tcpIdleClosed = 0;
  /** Times a connection's reading stopped because its unsent answers reached tcpMaxQueuedBytes. */
  tcpPausedForBacklog = 0;
  /** Connections dropped for a framing error (a zero-length message). */
  tcpFramingErrors = 0;
  readonly rcodes: { [rcode: number]: number } = {};

  countRcode(rcode: number): void {
    this.rcodes[rcode] = (this.rcodes[rcode] ?? 0) + 1;
  }

  snapshot(): Omit<DnsMetrics, 'countRcode' | 'snapshot'> {
    return { ...this, rcodes: { ...this.rcodes } };
  }
}
