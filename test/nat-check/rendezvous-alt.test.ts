/**
 * The rendezvous's STUN alternate port (`altPort`, `--alt-port`) on the simulated network: a
 * second socket that answers STUN Binding and nothing else, and "change port" answers leaving
 * from the other socket. Raw STUN from a test socket, so every source port is visible.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Simulator } from '../../common/net/sim/index.js';
import type { DatagramSocket, Endpoint } from '../../common/net/types.js';
import { MsgType } from '../../common/wire/constants.js';
import { encode } from '../../common/wire/messages.js';
import { decodeStun, encodeBindingRequest, isStunMessage } from '../../common/wire/stun.js';
import type { StunMessage } from '../../common/wire/stun.js';
import { RendezvousServer } from '../../rendezvous/server.js';
import type { RendezvousOptions } from '../../rendezvous/server.js';

const ADDR = '203.0.113.10';
let server: RendezvousServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface Got {
  from: Endpoint;
  msg?: StunMessage;
  bytes: Uint8Array;
}

async function setup(opts: RendezvousOptions = {}, occupy?: number) {
  const sim = new Simulator({ seed: 7 });
  const host = sim.addHost('rendezvous', { internetAddress: ADDR });
  let squatter: DatagramSocket | undefined;
  if (occupy !== undefined) {
    squatter = host.network.createUdpSocket();
    await squatter.bind(occupy, ADDR);
  }
  server = new RendezvousServer(
    { host: ADDR, port: 7000, ...opts },
    { network: host.network, clock: sim.clock },
  );
  const client = sim.addHost('client', { internetAddress: '203.0.113.50' });
  const sock = client.network.createUdpSocket();
  await sock.bind(40000);
  const got: Got[] = [];
  sock.onMessage((bytes, from) =>
    got.push({ from, bytes, ...(isStunMessage(bytes) ? { msg: decodeStun(bytes) } : {}) }),
  );
  const send = async (to: number, bytes: Uint8Array): Promise<Got[]> => {
    const before = got.length;
    sock.send(bytes, { address: ADDR, port: to });
    await sim.run(200);
    return got.slice(before);
  };
  return { sim, host, server, send, squatter };
}

describe('rendezvous alternate port', () => {
  it('defaults to PORT+1 and answers a plain Binding request there, the same 56-byte answer as on the main port', async () => {
    const w = await setup();
    await w.server.start();
    expect(w.server.altEndpoint).toEqual({ address: ADDR, port: 7001 });
    const [a] = await w.send(7001, encodeBindingRequest());
    expect(a!.from.port).toBe(7001);
    expect(a!.msg).toMatchObject({
      class: 'success',
      xorMappedAddress: { address: '203.0.113.50', port: 40000 },
    });
    expect(a!.bytes).toHaveLength(56);
    expect(a!.msg?.otherAddress).toBeUndefined();
  });

  it('answers "change port" from the other socket, both ways; drops "change IP"', async () => {
    const w = await setup();
    await w.server.start();
    const toMain = await w.send(
      7000,
      encodeBindingRequest(undefined, { changeRequest: { changePort: true } }),
    );
    expect(toMain.map((g) => g.from.port)).toEqual([7001]);
    const toAlt = await w.send(
      7001,
      encodeBindingRequest(undefined, { changeRequest: { changePort: true } }),
    );
    expect(toAlt.map((g) => g.from.port)).toEqual([7000]);
    const ip = await w.send(7000, encodeBindingRequest(undefined, { changeRequest: { changeIp: true } }));
    expect(ip).toEqual([]);
    expect(w.server.stats.stunRequests).toBe(3);
  });

  it('serves nothing but STUN on the alternate port: a punchline HELLO there is dropped, on the main port answered', async () => {
    const w = await setup();
    await w.server.start();
    const hello = encode({ type: MsgType.HELLO, txid: new Uint8Array(8) });
    expect(await w.send(7001, hello)).toEqual([]);
    expect(w.server.stats.dropped.malformed).toBe(1);
    const onMain = await w.send(7000, hello);
    expect(onMain).toHaveLength(1);
    expect(onMain[0]!.bytes[1]).toBe(MsgType.COOKIE);
  });

  it('--alt-port 0: no second socket, and CHANGE-REQUEST gets 420 (RFC 5780 §6)', async () => {
    const w = await setup({ altPort: 0 });
    await w.server.start();
    expect(w.server.altEndpoint).toBeUndefined();
    expect(await w.send(7001, encodeBindingRequest())).toEqual([]);
    const [r] = await w.send(7000, encodeBindingRequest(undefined, { changeRequest: { changePort: true } }));
    expect(r!.msg).toMatchObject({ class: 'error', errorCode: { code: 420 }, unknownAttributes: [0x0003] });
  });

  it('the default port taken: the server starts without it; an explicit one taken: start() fails and frees the main port', async () => {
    const a = await setup({}, 7001);
    await a.server.start();
    expect(a.server.altEndpoint).toBeUndefined();
    await a.server.close();

    const b = await setup({ altPort: 7001 }, 7001);
    await expect(b.server.start()).rejects.toThrow(/EADDRINUSE/);
    const again = b.host.network.createUdpSocket();
    await expect(again.bind(7000, ADDR)).resolves.toEqual({ address: ADDR, port: 7000 });
    again.close();
  });

  it('close() closes the alternate socket too', async () => {
    const w = await setup({ altPort: 7100 });
    await w.server.start();
    expect(w.server.altEndpoint?.port).toBe(7100);
    await w.server.close();
    const s = w.host.network.createUdpSocket();
    await expect(s.bind(7100, ADDR)).resolves.toEqual({ address: ADDR, port: 7100 });
    s.close();
  });
});
