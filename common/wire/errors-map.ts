import type { ErrorCode } from '../errors.js';
import { WireError } from './constants.js';

/** Wire error numbers (ERROR messages) to the public error codes; unknown numbers become INTERNAL. */
export function errorCodeOfWire(n: number): ErrorCode {
  for (const [name, value] of Object.entries(WireError)) if (value === n) return name as ErrorCode;
  return 'INTERNAL';
}
