import pino, { type Logger } from 'pino';
import { isJournalStream, journalDestination } from './log/journald.js';

export type { Logger };

/**
 * JSON lines by default (for journald, log shippers, tests); readable text when a person is watching a
 * terminal. pino-pretty runs in pino's transport worker, off the DNS thread. Under journald each line starts
 * with its syslog priority (log/journald.ts); elsewhere the lines go to stdout untouched.
 */
export function createLogger(level = 'info', pretty = process.stdout.isTTY === true): Logger {
  if (pretty) {
    return pino({ level, name: 'realmgw', transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l' } } });
  }
  if (isJournalStream(process.env, 1)) return pino({ level, name: 'realmgw' }, journalDestination(pino.destination(1)));
  return pino({ level, name: 'realmgw' });
}
