/**
 * `--transfer`, told from demo events (events.ts): alice's bulk transfer to bob starts, passes
 * 25, 50 and 75%, and ends with the bytes per path and the two SHA-256 digests compared.
 */
import type { DemoEventOf, TransferFigures } from './events.js';
import { ms, step } from './format.js';
import type { Story } from './story.js';

type Lines = string[];

/** "412.5 KiB" from bytes. */
export const kib = (bytes: number): string => `${Math.round((bytes / 1024) * 10) / 10} KiB`;

/** "1,048,576 bytes". */
const bytesText = (n: number): string => `${n.toLocaleString('en-US')} bytes`;

/** "over the relay" / "on the direct path". */
export const over = (path: string): string => (path === 'relay' ? 'over the relay' : 'on the direct path');

export function tellTransferStart(_s: Story, e: DemoEventOf<'transfer-start'>): Lines {
  return step(
    e.t,
    `${e.peer} sends ${e.to} a file's worth of data: ${kib(e.bytes)} of random bytes, over the bulk ` +
      `path file transfers use (in pieces, behind any chat line). It starts ${over(e.path)}, where ` +
      `the session is now.`,
    `transfer ${e.id}: ${bytesText(e.bytes)}, path ${e.path}`,
  );
}

export function tellTransferProgress(_s: Story, e: DemoEventOf<'transfer-progress'>): Lines {
  return step(
    e.t,
    `${e.percent}% of the transfer has reached ${e.peer} (${kib(e.bytes)}), ${over(e.path)}.`,
    `${bytesText(e.bytes)} of ${e.total.toLocaleString('en-US')}, path ${e.path}`,
  );
}

/** "400 KiB over the relay and 624 KiB direct". */
export function split(f: TransferFigures): string {
  if (f.relayBytes === 0) return `all ${kib(f.directBytes)} direct`;
  if (f.directBytes === 0) return `all ${kib(f.relayBytes)} over the relay`;
  return `${kib(f.relayBytes)} over the relay and ${kib(f.directBytes)} direct`;
}

export function tellTransferEnd(_s: Story, e: DemoEventOf<'transfer-end'>): Lines {
  const hashes = `SHA-256 ${e.sha256.slice(0, 16)}… at ${e.to}, ${(e.senderSha256 ?? '?').slice(0, 16)}… at ${e.peer}`;
  const paths = `relay ${bytesText(e.relayBytes)}, direct ${bytesText(e.directBytes)}`;
  if (e.failed !== undefined)
    return step(
      e.t,
      `The transfer did not finish: ${e.to} got ${kib(e.bytes)} of ${kib(e.total)} (${split(e)}).`,
      `${e.failed}; ${paths}`,
    );
  const speed = e.ms !== undefined ? ` in ${ms(e.ms)} (${e.kibPerSecond} KiB/s)` : '';
  const verdict = e.matches
    ? 'SHA-256 matches: not a byte lost or doubled.'
    : `SHA-256 does not match${e.contiguous ? '' : ' (a record came at the wrong offset)'}: the bytes differ.`;
  return step(
    e.t,
    `${e.to} has all of it: ${kib(e.bytes)}${speed}, ${split(e)}. ${verdict}`,
    `${hashes}; ${paths}`,
  );
}

/** The summary's row. */
export function transferText(f: TransferFigures): string {
  if (f.failed !== undefined) return `${kib(f.bytes)} of ${kib(f.total)} arrived (${split(f)}): ${f.failed}`;
  const speed = f.ms !== undefined ? ` in ${ms(f.ms)} (${f.kibPerSecond} KiB/s)` : '';
  return `${kib(f.bytes)}${speed}: ${split(f)}; ${f.matches ? 'SHA-256 matches' : 'SHA-256 does NOT match'}`;
}
