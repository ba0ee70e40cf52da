/**
 * Log priorities for journald. When stdout is a journal stream, systemd reads a leading `<N>` on each line as
 * its syslog priority (sd-daemon(3)), so `journalctl -p warning` shows realmgw's warnings and errors. systemd
 * says whether it is one through $JOURNAL_STREAM ("device:inode" of the stream it connected); stdout may
 * have been redirected since, hence the comparison with fstat rather than the variable alone.
 */
import { fstatSync } from 'node:fs';
import { symbols, type DestinationStream } from 'pino';

/** pino's numeric level -> syslog priority: fatal 2 (crit), error 3, warn 4, info 6, debug and trace 7. */
export function journalPriority(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

/** True when fd is the stream $JOURNAL_STREAM names. */
export function isJournalStream(env: NodeJS.ProcessEnv, fd: number, stat: (fd: number) => { dev: number; ino: number } = fstatSync): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const s = stat(fd);
    return String(s.dev) === m[1] && String(s.ino) === m[2];
  } catch {
    return false;
  }
}

/**
 * A pino destination that prefixes every line with its priority. pino tells a stream that asks for it
 * (symbols.needsMetadataGsym) the level of the line it is about to write, so nothing is parsed back.
 */
export function journalDestination(out: { write(line: string): unknown }): DestinationStream {
  return {
    [symbols.needsMetadataGsym]: true,
    lastLevel: 30,
    write(this: { lastLevel: number }, line: string) {
      out.write(`<${journalPriority(this.lastLevel)}>${line}`);
    },
  } as DestinationStream;
}
