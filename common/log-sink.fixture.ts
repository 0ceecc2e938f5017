import { Writable } from 'node:stream';
import { z } from 'zod';
import { createLogger, type Logger, type LogLevel } from './logger.js';

const logLine = z.looseObject({ level: z.number(), msg: z.string().optional() });

/** One line the logger wrote: pino's numeric `level`, the message if there was one, and every other field. */
type LogLine = z.infer<typeof logLine>;

/**
 * The service's own logger (redaction included) writing into memory instead of stdout. `lines` holds
 * each line parsed, in order; `raw` the text as written, to show that something never reached the log.
 */
export function logSink(level: LogLevel = 'debug'): { logger: Logger; lines: LogLine[]; raw: string[] } {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = chunk.toString('utf8');
      raw.push(text);
      for (const line of text.split('\n')) {
        if (line.trim() !== '') lines.push(logLine.parse(JSON.parse(line)));
      }
      done();
    },
  });
  return { logger: createLogger({ level, destination }), lines, raw };
}
