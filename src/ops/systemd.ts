/**
 * Telling systemd what the gateway is doing (sd_notify(3)): READY=1 once started and ready, RELOADING=1 around
 * a reload, STOPPING=1 on stop, STATUS= for `systemctl status`, and WATCHDOG=1 every half WatchdogSec so that
 * systemd restarts a gateway whose event loop is stuck. Outside systemd ($NOTIFY_SOCKET unset) every call is a
 * no-op, so `run` calls them unconditionally.
 *
 * The datagram goes out through the addon from the main process: NotifyAccess=main accepts nothing else (the
 * `systemd-notify` binary would send from its own pid and need NotifyAccess=all).
 */
import type { Logger } from '../log.js';
import type { Readiness } from './readiness.js';
import { processCalls } from './process-calls.js';

export interface NotifyTarget {
  /** $NOTIFY_SOCKET: a path or `@abstract`; undefined outside systemd. */
  socket?: string;
  /** Milliseconds between WATCHDOG=1 pings (half of $WATCHDOG_USEC); undefined when no watchdog is ours. */
  watchdogIntervalMs?: number;
}

/**
 * Reads the service environment (pure). $WATCHDOG_PID, when set, names the process the watchdog is meant
 * for: a child that inherited the variables must not ping on its parent's behalf.
 */
export function notifyTarget(env: NodeJS.ProcessEnv, pid: number): NotifyTarget {
  const raw = env.NOTIFY_SOCKET;
  const socket = raw && (raw.startsWith('/') || raw.startsWith('@')) && raw.length > 1 ? raw : undefined;
  if (!socket) return {};
  const usec = /^\d+$/.test(env.WATCHDOG_USEC ?? '') ? Number(env.WATCHDOG_USEC) : 0;
  const forUs = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === String(pid);
  return usec > 0 && forUs ? { socket, watchdogIntervalMs: Math.max(1, Math.floor(usec / 2000)) } : { socket };
}

/** systemd's notification lines; STATUS is one line, so newlines in it become spaces. */
export const notifyMessage = {
  ready: (status?: string) => (status === undefined ? 'READY=1' : `READY=1\nSTATUS=${oneLine(status)}`),
  /** MONOTONIC_USEC is CLOCK_MONOTONIC, which is what process.hrtime reads on Linux (libuv). */
  reloading: (monotonicUsec: bigint) => `RELOADING=1\nMONOTONIC_USEC=${monotonicUsec}`,
  stopping: () => 'STOPPING=1',
  status: (text: string) => `STATUS=${oneLine(text)}`,
  watchdog: () => 'WATCHDOG=1',
};

const oneLine = (text: string): string => text.replace(/[\r\n]+/g, ' ');

export type Send = (socket: string, message: string) => void;

export class SystemdNotifier {
  private failed = false;

  constructor(
    readonly target: NotifyTarget,
    private readonly send: Send = (socket, message) => processCalls().sdNotify(socket, message),
    private log?: Logger,
  ) {}

  /** True when running under systemd with Type=notify ($NOTIFY_SOCKET set). */
  get active(): boolean {
    return this.target.socket !== undefined;
  }

  /** Where send failures are reported (the logger exists only once the config is read). */
  useLogger(log: Logger): void {
    this.log = log;
  }

  ready(status?: string): boolean {
    return this.notify(notifyMessage.ready(status));
  }

  /** Before a reload; ready() again when it is over, whatever its outcome. */
  reloading(): boolean {
    return this.notify(notifyMessage.reloading(process.hrtime.bigint() / 1000n));
  }

  stopping(): boolean {
    return this.notify(notifyMessage.stopping());
  }

  status(text: string): boolean {
    return this.notify(notifyMessage.status(text));
  }

  /**
   * Pings WATCHDOG=1 every half WatchdogSec from the event loop, so a blocked loop misses them; the timer never
   * keeps the process alive. Returns the function that stops it (a no-op without a watchdog).
   */
  startWatchdog(): () => void {
    const every = this.target.watchdogIntervalMs;
    if (every === undefined) return () => undefined;
    this.notify(notifyMessage.watchdog());
    const timer = setInterval(() => this.notify(notifyMessage.watchdog()), every);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Sends one message; false outside systemd or when it could not be sent (logged once: systemd will say the rest). */
  notify(message: string): boolean {
    const socket = this.target.socket;
    if (socket === undefined) return false;
    try {
      this.send(socket, message);
      return true;
    } catch (err) {
      if (!this.failed) this.log?.warn({ err, socket, message }, 'cannot notify systemd');
      this.failed = true;
      return false;
    }
  }
}

let shared: SystemdNotifier | undefined;

/** The process's notifier, read from process.env on first use (the reload path calls reloading()/ready() on it). */
export function systemd(): SystemdNotifier {
  shared ??= new SystemdNotifier(notifyTarget(process.env, process.pid));
  return shared;
}

/** STATUS= text for the readiness conditions that are false (pure). */
export function notReadyStatus(view: ReturnType<Readiness['view']>): string {
  const failing = Object.entries(view).filter(([, c]) => !c.ok);
  return `not ready: ${failing.map(([name, c]) => `${name}: ${c.reason}`).join('; ')}`;
}

/**
 * READY=1 whenever the gateway becomes ready (start, end of a drift repair), STATUS= with the reasons when it
 * stops being ready: systemd counts start-up done at the first READY=1 and ignores repeats.
 */
export function followReadiness(readiness: Readiness, notifier: SystemdNotifier, readyStatus: () => string): void {
  const tell = (ready: boolean) => (ready ? notifier.ready(readyStatus()) : notifier.status(notReadyStatus(readiness.view())));
  readiness.onChange(tell);
  if (readiness.ready()) tell(true);
}
