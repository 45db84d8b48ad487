import path from 'node:path';
import { MAX_NAME_BYTES } from './file-control.js';

/** What a temporary file's name adds to the sanitised name: `.` + `.` + id + suffix. */
export const PART_SUFFIX = '.punchline-part';

/**
 * A file name a peer sent, made safe to create in the target directory (docs/security.md, file
 * names): only its last path component (after any `/` or `\`), no control characters, no
 * leading dots (no hidden files, no `.` or `..`), at most 255 bytes of UTF-8 keeping the
 * extension; `file` when nothing is left.
 */
export function sanitizeName(raw: string): string {
  const last = raw.split(/[/\\]/).pop() ?? '';
  // C0, DEL and C1 controls, and the Unicode line/paragraph separators, bidi overrides.
  // eslint-disable-next-line no-control-regex -- removing control characters is the point
  let name = last.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '');
  name = name.replace(/^[.\s]+/, '').replace(/\s+$/, '');
  if (name.length === 0) return 'file';
  return fitBytes(name, MAX_NAME_BYTES);
}

/** The name cut to `max` bytes of UTF-8, on a character boundary, keeping a short extension. */
export function fitBytes(name: string, max: number): string {
  if (Buffer.byteLength(name) <= max) return name;
  const ext = path.extname(name);
  const keep = Buffer.byteLength(ext) <= 16 ? ext : '';
  let stem = name.slice(0, name.length - keep.length);
  while (Buffer.byteLength(stem + keep) > max) stem = [...stem].slice(0, -1).join('');
  return stem + keep;
}

/** The n-th name tried for `name`: `name.ext`, `name (1).ext`, `name (2).ext`, ... (still at most 255 bytes). */
export function numbered(name: string, n: number): string {
  if (n === 0) return name;
  const ext = path.extname(name);
  const stem = name.slice(0, name.length - ext.length);
  const tag = ` (${n})`;
  return fitBytes(stem, MAX_NAME_BYTES - Buffer.byteLength(tag + ext)) + tag + ext;
}

/** The hidden temporary file a transfer writes to in its target directory. */
export function partName(name: string, file: string): string {
  return (
    fitBytes(`.${name}`, MAX_NAME_BYTES - file.length - PART_SUFFIX.length - 1) + `.${file}${PART_SUFFIX}`
  );
}
