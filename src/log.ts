import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines by default (for journald, log shippers, tests); readable text when a person is watching a
 * terminal. pino-pretty runs in pino's transport worker, off the DNS thread.
 */
export function createLogger(level = 'info', pretty = process.stdout.isTTY === true): Logger {
  if (pretty) {
    return pino({ level, name: 'realmgw', transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l' } } });
  }
  return pino({ level, name: 'realmgw' });
}
