/**
 * nat-check's STUN client: Binding requests over one UDP socket as client transactions
 * (peer/transactions.ts), answers matched by transaction id (RFC 8489 §6.3.3), a request nothing
 * answers reported as silence rather than an error, since silence is what the tests measure.
 */
import type { Clock } from '../../common/clock.js';
import { isPunchlineError } from '../../common/errors.js';
import type { DatagramSocket, Endpoint } from '../../common/net/types.js';
import { backoffDelay } from '../../common/path/backoff.js';
import type { BackoffOptions } from '../../common/path/backoff.js';
import { STUN_TXID_SIZE, decodeStun, encodeBindingRequest, isStunMessage } from '../../common/wire/stun.js';
import type { StunMessage } from '../../common/wire/stun.js';
import { Transactions } from '../transactions.js';

/**
 * Retransmissions of one Binding request: 250 ms, then doubling (the rendezvous's own request
 * backoff, common/path/backoff.ts: shorter than STUN's 500 ms RTO, RFC 8489 §6.2.1, because the
 * server is one known hop away), no jitter. Each test is bounded by `timeoutMs` (default 3 s):
 * sends at 0, 250, 750 and 1750 ms, then the answer is awaited until 3000 ms.
 */
const NAT_CHECK_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 2_000, factor: 2, jitter: 0 };
export const NAT_CHECK_TIMEOUT_MS = 3_000;

/** When each try of one request is sent, ms after the first; all before `timeoutMs`. */
export function sendTimes(timeoutMs: number, backoff: BackoffOptions = NAT_CHECK_BACKOFF): number[] {
  const out = [0];
  for (let i = 0; ; i++) {
    const next = out[out.length - 1]! + backoffDelay(i, backoff, 0.5);
    if (next >= timeoutMs) return out;
    out.push(next);
  }
}

/** SOFTWARE in our requests, so a server operator can tell what is probing them. */
const SOFTWARE = 'punchline nat-check';

type StunReply =
  { msg: StunMessage; from: Endpoint; rttMs: number; tries: number } | { tries: number; waitedMs: number };

export class StunClient {
  private readonly transactions: Transactions<{ msg: StunMessage; from: Endpoint }>;

  constructor(
    private readonly sock: DatagramSocket,
    private readonly clock: Clock,
    randomBytes: (n: number) => Uint8Array,
    timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.transactions = new Transactions(
      { clock, randomBytes },
      {
        txidBytes: STUN_TXID_SIZE,
        schedule: { backoff: NAT_CHECK_BACKOFF, tries: sendTimes(timeoutMs).length, deadlineMs: timeoutMs },
      },
    );
    sock.onMessage((data, from) => this.onDatagram(data, from));
  }

  private onDatagram(data: Uint8Array, from: Endpoint): void {
    if (!isStunMessage(data)) return;
    let msg: StunMessage;
    try {
      msg = decodeStun(data);
    } catch {
      return; // hostile or broken: dropped (docs/contributing.md §2)
    }
    if (msg.class !== 'success' && msg.class !== 'error') return;
    this.transactions.answer(msg.txId, { msg, from });
  }

  /**
   * Send a Binding request to `to`, retransmitting on `sendTimes(timeoutMs)`, and resolve with
   * the first answer (from any source) or, after `timeoutMs`, with how long it waited.
   * Rejects with ABORTED on the signal.
   */
  async request(to: Endpoint, change?: { changePort: boolean }): Promise<StunReply> {
    const txId = this.transactions.txid();
    const bytes = encodeBindingRequest(txId, {
      software: SOFTWARE,
      fingerprint: true,
      ...(change ? { changeRequest: change } : {}),
    });
    const start = this.clock.now();
    let tries = 0;
    const send = (): void => {
      tries++;
      this.sock.send(bytes, to);
    };
    try {
      const r = await this.transactions.request(txId, send, 'nat-check', this.signal);
      return { ...r.answer, rttMs: r.rttMs, tries: r.tries };
    } catch (e) {
      if (!isPunchlineError(e, 'TIMEOUT')) throw e;
      return { tries, waitedMs: Math.round(this.clock.now() - start) };
    }
  }
}
