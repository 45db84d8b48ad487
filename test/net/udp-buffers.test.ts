import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NodeUdpSocket, SOCKET_BUFFER_BYTES } from '../../common/net/udp-node.js';

/** The kernel's cap on socket buffers (Linux), or undefined elsewhere. */
function cap(name: 'rmem_max' | 'wmem_max'): number | undefined {
  try {
    return Number(readFileSync(`/proc/sys/net/core/${name}`, 'utf8').trim());
  } catch {
    return undefined;
  }
}

describe('NodeUdpSocket buffers', () => {
  const rmem = cap('rmem_max');
  const wmem = cap('wmem_max');
  it.skipIf(rmem === undefined || wmem === undefined)(
    'asks for 4 MiB each way: the kernel grants up to its cap (net.core.rmem_max / wmem_max)',
    async () => {
      const s = new NodeUdpSocket();
      await s.bind(0, '127.0.0.1');
      const got = s.bufferSizes();
      s.close();
      expect(got.receive).toBeGreaterThanOrEqual(Math.min(SOCKET_BUFFER_BYTES, rmem!));
      expect(got.send).toBeGreaterThanOrEqual(Math.min(SOCKET_BUFFER_BYTES, wmem!));
    },
  );
});
