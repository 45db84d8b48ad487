import type { CipherState } from '../crypto/cipher-state.js';
import { PunchlineError } from '../errors.js';

/**
 * Key rotation for the transport ciphers, after QUIC's key update (RFC 9001 §6) but with Noise's
 * Rekey() (Noise §4.2, §11.3) as the key derivation. Each direction rotates on its own: the
 * sender rekeys its sending CipherState after `rekeyAfterPackets` packets and flips the key phase
 * bit in the (authenticated) header; the receiver, seeing the other phase on a packet newer than
 * those of its current phase, tries the next key and switches only if the packet authenticates.
 * The previous receive key is kept for `keepPreviousMs` so reordered packets still open.
 *
 * A sender does not rotate again until a packet of its current phase was acknowledged (RFC 9001
 * §6.1), so the receiver is never more than one phase behind and one bit suffices.
 */
export class KeySchedule {
  sendPhase: 0 | 1 = 0;
  recvPhase: 0 | 1 = 0;
  sendRotations = 0;
  recvRotations = 0;
  private sentInPhase = 0;
  private sendPhaseFirstPn = 0;
  private sendRotationAllowed = false;
  private recvPhaseFirstPn = 0;
  private previous: { cipher: CipherState; until: number } | undefined;
  private next: CipherState | undefined;

  constructor(
    private send: CipherState,
    private recv: CipherState,
    private readonly rekeyAfterPackets: number,
  ) {}

  /** The cipher and phase to seal packet `pn` with, rotating first when it is time. */
  sealing(pn: number): { cipher: CipherState; phase: 0 | 1 } {
    if (this.sentInPhase >= this.rekeyAfterPackets && this.sendRotationAllowed) {
      this.send.rekey();
      this.sendPhase = this.sendPhase === 0 ? 1 : 0;
      this.sendPhaseFirstPn = pn;
      this.sentInPhase = 0;
      this.sendRotationAllowed = false;
      this.sendRotations++;
    }
    this.sentInPhase++;
    return { cipher: this.send, phase: this.sendPhase };
  }

  /** An ACK arrived for packet `pn`: the peer holds our current keys once it acknowledges one. */
  onAcked(pn: number): void {
    if (pn >= this.sendPhaseFirstPn) this.sendRotationAllowed = true;
  }

  /**
   * Open a packet with the key its phase bit and number select. `open` decrypts with a given
   * cipher and throws when the packet does not authenticate; the keys change only on success.
   */
  opening<T>(phase: 0 | 1, pn: number, now: number, keepPreviousMs: number, open: (c: CipherState) => T): T {
    if (phase === this.recvPhase) {
      const out = open(this.recv);
      if (pn < this.recvPhaseFirstPn) this.recvPhaseFirstPn = pn;
      return out;
    }
    if (pn < this.recvPhaseFirstPn) {
      // Older than anything of the current phase: the previous key, if still kept.
      if (!this.previous || now > this.previous.until)
        throw new PunchlineError('BAD_SIGNATURE', 'packet of a retired key phase');
      return open(this.previous.cipher);
    }
    if (!this.next) {
      this.next = this.recv.clone();
      this.next.rekey();
    }
    const out = open(this.next);
    this.previous = { cipher: this.recv, until: now + keepPreviousMs };
    this.recv = this.next;
    this.next = undefined;
    this.recvPhase = this.recvPhase === 0 ? 1 : 0;
    this.recvPhaseFirstPn = pn;
    this.recvRotations++;
    return out;
  }
}
