/**
 * The port behaviour measurement (docs/nat-traversal.md, "Port behaviour"): after the UDP
 * rendezvous client registers from a new public endpoint (m1, the `observed` of REGISTERED),
 * three STUN Binding requests to the server's two UDP ports make three more mappings, in order:
 * m2 from the main socket to the alternate port (main + 1, rendezvous/udp-front.ts), m3 and m4
 * from one temporary socket to the main and the alternate port. classifyPorts
 * (common/path/port-behaviour.ts) reads the behaviour off the four public endpoints; the client
 * keeps it and tells the server (NAT_INFO), which passes it on in introductions.
 *
 * It runs beside registration and chat, never before them, and is bounded: each request is sent
 * at 0, 250 and 750 ms and given up at 1500 ms, all three at once; the temporary socket is closed
 * when they end, on failure and on close().
 */
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { PortBehaviour } from '../common/nat-behaviour.js';
import type { DatagramSocket, Endpoint, Network } from '../common/net/types.js';
import { endpointKey, sameEndpoint } from '../common/net/types.js';
import { classifyPorts } from '../common/path/port-behaviour.js';
import { PunchlineError } from '../common/errors.js';
import { toHex } from '../common/wire/bytes.js';
import { STUN_TXID_SIZE, decodeStun, encodeBindingRequest, isStunMessage } from '../common/wire/stun.js';
import type { StunMessage } from '../common/wire/stun.js';
import { decodeOrDrop } from '../common/wire/decode-or-drop.js';
import type { RendezvousClient } from './rendezvous-client.js';
import type { ServerGate } from './server-gate.js';
import { Transactions } from './transactions.js';

/** Tries at 0, 250, 750 ms (the rendezvous's 250 ms first backoff, doubling), all over by 1500 ms. */
const PROBE_SCHEDULE = {
  backoff: { initialMs: 250, maxMs: 1_000, factor: 2, jitter: 0 },
  tries: 3,
  deadlineMs: 1_500,
} as const;

/** What the node's UDP side offers the probe: the main socket's endpoint, and a way to make another. */
export interface NatProbeSocket {
  network: Network;
  /** The main socket's local endpoint: a public port equal to its port is "preserved". */
  local: Endpoint;
  /** The address the main socket is bound to, if any: the temporary socket binds there too. */
  bind: string | undefined;
}

export interface NatProbeComponents extends NatProbeSocket {
  server: Endpoint;
  clock: Clock;
  randomBytes: (n: number) => Uint8Array;
  logger: Logger;
  gate: ServerGate;
  /** Send on the main socket. */
  send: (bytes: Uint8Array, to: Endpoint) => void;
}

export class NatProbe {
  private readonly transactions: Transactions<StunMessage>;
  /** Txids of the requests of the current measurement (hex): a late duplicate answer is ours too. */
  private readonly sent = new Set<string>();
  private temp: DatagramSocket | undefined;
  /** The m1 the last finished measurement started from, the running one's, and the next one's. */
  private measuredFrom: Endpoint | undefined;
  private measuring: Endpoint | undefined;
  private wanted: Endpoint | undefined;
  private running = false;
  private closed = false;
  /** Resolves when no measurement runs and the last one's NAT_INFO was answered (or given up). */
  private idle: Promise<void> = Promise.resolve();
  /** Measurements finished (a test's event to wait for). */
  measurements = 0;

  constructor(private readonly c: NatProbeComponents) {
    this.transactions = new Transactions(
      { clock: c.clock, randomBytes: c.randomBytes },
      {
        txidBytes: STUN_TXID_SIZE,
        schedule: PROBE_SCHEDULE,
      },
    );
    c.gate.takeStunAnswers((m) => this.onAnswer(m));
  }

  /**
   * The client registered, seen at `observed`: measure from there, unless that is where the last
   * measurement started (a re-registration on the same mapping: the server forgot the behaviour,
   * so it is only told again).
   */
  registered(client: RendezvousClient, observed: Endpoint): void {
    if (this.closed) return;
    if (this.running) {
      // The running measurement tells the server when it ends, if it is from this mapping.
      if (!sameEndpoint(observed, this.measuring)) this.wanted = observed;
      return;
    }
    if (sameEndpoint(observed, this.measuredFrom)) {
      void client.tellNat(client.nat);
      return;
    }
    this.wanted = observed;
    void this.run(client);
  }

  /**
   * Wait (at most `maxMs`) until the running measurement has been told to the server: an
   * introduction asked for after that carries our behaviour, so the first punch attempt can
   * search (peer/punch-orchestrator.ts). At once when none runs.
   */
  settled(maxMs: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = this.c.clock.setTimeout(resolve, maxMs);
      void this.idle.then(() => {
        this.c.clock.clearTimeout(t);
        resolve();
      });
    });
  }

  private async run(client: RendezvousClient): Promise<void> {
    this.running = true;
    let done = (): void => {};
    this.idle = new Promise<void>((r) => (done = r));
    try {
      while (this.wanted && !this.closed) {
        const m1 = this.wanted;
        this.wanted = undefined;
        this.measuring = m1;
        const nat = await this.measure(m1);
        if (this.closed) return;
        this.measuredFrom = m1;
        this.measurements++;
        this.c.logger.info('port behaviour', { ...nat, from: endpointKey(m1) });
        // A newer registration (another mapping) measures again rather than tell a stale one.
        if (!this.wanted) await client.tellNat(nat);
      }
    } finally {
      this.running = false;
      this.measuring = undefined;
      done();
    }
  }

  /** m2, m3, m4 in order, all at once; the temporary socket is closed however it ends. */
  private async measure(m1: Endpoint): Promise<PortBehaviour> {
    const { server } = this.c;
    const alt = { address: server.address, port: server.port + 1 };
    if (alt.port > 0xffff) return { kind: 'unknown' };
    this.sent.clear();
    const m2 = this.ask((b) => this.c.send(b, alt));
    const temp = this.c.network.createUdpSocket();
    this.temp = temp;
    try {
      temp.onMessage((data, from) => {
        if (!this.c.gate.fromServerHost(from) || !isStunMessage(data)) return;
        const m = decodeOrDrop(decodeStun, data, () => {});
        if (m?.class === 'success') this.onAnswer(m);
      });
      let bound = true;
      await temp.bind(0, this.c.bind).catch((e: unknown) => {
        bound = false;
        this.c.logger.debug('port behaviour: no temporary socket', { error: String(e) });
      });
      const m3 = bound && !this.closed ? this.ask((b) => temp.send(b, server)) : undefined;
      const m4 = bound && !this.closed ? this.ask((b) => temp.send(b, alt)) : undefined;
      const samples = [m1, ...(await Promise.all([m2, m3, m4]))];
      return classifyPorts({ local: this.c.local, samples });
    } finally {
      temp.close();
      this.temp = undefined;
    }
  }

  /** One Binding request, retransmitted on the schedule: the public endpoint it saw, or undefined. */
  private async ask(send: (bytes: Uint8Array) => void): Promise<Endpoint | undefined> {
    const txid = this.transactions.txid();
    this.sent.add(toHex(txid));
    const bytes = encodeBindingRequest(txid);
    try {
      const r = await this.transactions.request(txid, () => send(bytes), 'port behaviour');
      return r.answer.xorMappedAddress ?? r.answer.mappedAddress;
    } catch {
      return undefined; // no answer (an older server, no alternate port, loss) or closed
    }
  }

  /** A STUN success from the server's address (the gate or the temporary socket checked it). */
  private onAnswer(m: StunMessage): boolean {
    if (!this.sent.has(toHex(m.txId))) return false;
    this.transactions.answer(m.txId, m);
    return true;
  }

  /** Stop: pending requests end, the temporary socket closes; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transactions.cancelAll(new PunchlineError('CLOSED', 'closed'));
    this.temp?.close();
    this.temp = undefined;
  }
}
