import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { badArgument } from '../errors.js';
import { isLogLevel } from '../log.js';
import type { LogLevel } from '../log.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Strict flag parsing: unknown flags and stray arguments are errors, never ignored. */
export function parseFlags(
  argv: string[],
  options: OptionSpec,
): Record<string, string | boolean | undefined> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    if (positionals.length > 0) throw badArgument(`unexpected argument "${positionals[0]}"`);
    return values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw badArgument((e as Error).message.replace(/\. To specify.*$/s, ''));
  }
}

export function intFlag(
  v: string | boolean | undefined,
  name: string,
  min: number,
  max: number,
  dflt: number,
): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n < min || n > max)
    throw badArgument(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

export function logLevelFlag(v: string | boolean | undefined, dflt: LogLevel): LogLevel {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !isLogLevel(v))
    throw badArgument(`--log-level must be debug, info, warn, error or silent`);
  return v;
}

const CONTROL = /\p{Cc}/u;
/** Names and rooms: 1..max UTF-8 bytes, no control characters, no leading/trailing space. */
export function textFlag(v: string | boolean | undefined, name: string, maxBytes: number): string {
  if (typeof v !== 'string' || v.length === 0) throw badArgument(`--${name} is required`);
  if (Buffer.byteLength(v) > maxBytes) throw badArgument(`--${name} is at most ${maxBytes} bytes`);
  if (CONTROL.test(v) || v.trim() !== v)
    throw badArgument(`--${name} must not contain control characters or edge spaces`);
  return v;
}
