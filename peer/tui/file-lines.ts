/**
 * File transfers as the conversation shows them: the offer a receiver answers, one live line per
 * transfer that the file_* events change in place (waiting, a progress bar with percent, bytes,
 * rate and time left, then the saved path and the checked SHA-256, or the failure's code), and
 * the transfers in /info. Pure text; transfers.ts keeps the state.
 */
import type { FileOffer, FileView } from '../chat/types.js';
import type { Glyphs } from './format.js';

/** One transfer as its live line shows it; transfers.ts updates it in place from the events. */
export interface FileLine {
  file: string;
  direction: 'send' | 'receive';
  peer: string;
  name: string;
  size: number;
  phase: 'offered' | 'accepted' | 'active' | 'done' | 'failed' | 'rejected';
  bytes: number;
  /** Bytes per second over the engine's last interval. */
  rate: number;
  etaMs?: number;
  /** Done: where the receiver saved it (the sender: the source). */
  filePath?: string;
  sha256?: string;
  ms?: number;
  code?: string;
  message?: string;
}

/** The id as the screen shows it: enough to tell transfers apart, short enough to type. */
export const shortId = (file: string): string => file.slice(0, 8);

/** "812 B", "4.5 KiB", "130 MiB": binary units, one decimal below 10. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** "0.4 s", "42 s", "3 min 5 s", "2 h 10 min". */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}

const indent = (text: string): string =>
  text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

const percent = (bytes: number, size: number): number => (size > 0 ? Math.floor((bytes * 100) / size) : 100);

/** The offer, for the receiver: who offers what, the key it came with, and how to answer. */
export function offerText(o: FileOffer): string {
  return [
    `${o.peer} offers you ${o.name} (${formatBytes(o.size)})`,
    `  from key ${o.fingerprint}, id ${shortId(o.file)}`,
    `  /accept [DIR] saves it, /reject declines`,
  ].join('\n');
}

/**
 * "[████░░░░] 45% 540 KiB/1.2 MiB 230 KiB/s 3.0 s left", the bar as wide as `width` allows; where
 * that leaves it under 12 cells, the numbers go on a line of their own under the bar.
 */
export function progressText(f: FileLine, g: Glyphs, width: number): string {
  const pct = percent(f.bytes, f.size);
  const eta = f.etaMs !== undefined ? ` ${formatDuration(f.etaMs)} left` : '';
  const nums = `${formatBytes(f.bytes)}/${formatBytes(f.size)} ${formatBytes(f.rate)}/s${eta}`;
  const bar = (cells: number): string => {
    const done = Math.min(cells, Math.floor((cells * pct) / 100));
    return `[${g.barDone.repeat(done)}${g.barTodo.repeat(cells - done)}] ${pct}%`;
  };
  const inline = Math.min(24, width - nums.length - 8);
  if (inline >= 12) return `${bar(inline)} ${nums}`;
  return `${bar(Math.max(4, Math.min(24, width - 7)))}\n${nums}`;
}

/**
 * The live line of a transfer at a text width (what follows "HH:MM -!- "): its text, and whether
 * it reads as an error.
 */
export function fileText(f: FileLine, g: Glyphs, width: number): { text: string; error: boolean } {
  const what = `${f.name} ${f.direction === 'send' ? 'to' : 'from'} ${f.peer}`;
  const size = formatBytes(f.size);
  const id = shortId(f.file);
  switch (f.phase) {
    case 'offered':
      return f.direction === 'send'
        ? {
            text: `${what} (${size}): waiting for ${f.peer} to accept (id ${id})`,
            error: false,
          }
        : { text: `${what} (${size}): offered; /accept ${id} or /reject ${id}`, error: false };
    case 'accepted':
      return { text: `${what} (${size}): accepted, waiting for the data`, error: false };
    case 'rejected':
      return { text: `${what} (${size}): you declined it`, error: false };
    case 'active':
      // The second line is indented two cells under the text column (panes.ts keeps the indent).
      return { text: `${what}\n${indent(progressText(f, g, width - 2))}`, error: false };
    case 'done': {
      const sha = `SHA-256 ${(f.sha256 ?? '').slice(0, 16)} matched`;
      const how = `  ${formatBytes(f.size)} in ${formatDuration(f.ms ?? 0)}, ${sha}`;
      const head = f.direction === 'receive' ? `${what}: saved to ${f.filePath ?? '?'}` : `${what}: sent`;
      return { text: `${g.answered} ${head}\n${how}`, error: false };
    }
    case 'failed': {
      // Declined or cancelled by someone is not a fault: it "stopped"; anything else "failed".
      const how = f.code === 'CANCELLED' || f.code === 'REJECTED' ? 'stopped' : 'failed';
      const text = `${g.unanswered} ${what} ${how}: ${f.code ?? 'ERROR'} ${f.message ?? ''}`;
      return { text: text.trimEnd(), error: how === 'failed' };
    }
  }
}

/** The transfers for /info: one line each, newest last. */
export function fileReport(files: readonly FileView[]): string[] {
  if (files.length === 0) return ['files: none in progress'];
  const lines = [`files (${files.length}):`];
  for (const f of files) {
    const what = `${f.name} ${f.direction === 'send' ? 'to' : 'from'} ${f.peer}`;
    const done = `${formatBytes(f.bytes)}/${formatBytes(f.size)} ${percent(f.bytes, f.size)}%`;
    lines.push(`  ${what}  ${f.state}  ${done}  id ${shortId(f.file)}`);
  }
  return lines;
}
