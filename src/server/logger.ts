import { type Logger, pino } from "pino";
import pretty from "pino-pretty";

type Output = NodeJS.WritableStream & { isTTY?: boolean };

/**
 * The process logger: readable, coloured lines for a person at a terminal (pino-pretty, formatted in this
 * thread so nothing is lost at exit), JSON lines otherwise (files, pipes, log shippers and `docker logs`
 * parse them). The choice follows the output, as `ls` or git do.
 */
export function createLogger(level: string, out: Output = process.stdout): Logger {
  if (!out.isTTY) return out === process.stdout ? pino({ level }) : pino({ level }, out);
  const stream = pretty({
    destination: out,
    sync: true,
    colorize: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname",
    singleLine: true, // the config printed at start stays one line, not sixty
  });
  return pino({ level }, stream);
}
