/**
 * The receive path's guard (docs/contributing.md §2): every input is hostile, so a
 * datagram or frame that does not decode is counted and dropped, never thrown at the caller.
 * `onDrop` does the counting (and gets the decoder's error, for a debug log); the result is
 * undefined when the input was dropped.
 *
 *     const m = decodeOrDrop(decode, data, () => this.stats.dropped.malformed++);
 *     if (!m) return;
 */
export function decodeOrDrop<T>(
  decoder: (bytes: Uint8Array) => T,
  bytes: Uint8Array,
  onDrop: (error: unknown) => void,
): T | undefined {
  try {
    return decoder(bytes);
  } catch (e) {
    onDrop(e);
    return undefined;
  }
}
