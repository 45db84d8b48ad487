import type { Clock, TimerHandle } from '../clock.js';
import type { RandomBytes } from '../crypto/x25519.js';
import { equalBytes } from '../wire/bytes.js';
import { PATH_DATA_BYTES } from './frames.js';
import { type SessionPath, samePath } from './session-path.js';

export interface PathValidatorHooks {
  /** A challenge goes to a new path (before the first PATH_CHALLENGE is sent). */
  challenged(path: SessionPath): void;
  /** Send PATH_CHALLENGE `data` on `path`, once, outside loss recovery. */
  sendChallenge(path: SessionPath, data: Uint8Array): void;
  /** How long to wait for the PATH_RESPONSE before the next try. */
  retryDelayMs(): number;
}

/**
 * Path validation (RFC 9000 §8.2): before following the peer to a new address, send a
 * PATH_CHALLENGE there and wait for the PATH_RESPONSE from that same path. One validation at a
 * time: a new source replaces the old one, so forged sources cannot make this side send more
 * than one challenge per authenticated, never-seen packet. After `tries` unanswered challenges
 * the validation is given up (counted in `failed`).
 */
export class PathValidator {
  private current:
    { path: SessionPath; data: Uint8Array; tries: number; timer: TimerHandle | undefined } | undefined;
  /** PATH_CHALLENGEs sent. */
  challenges = 0;
  /** Validations completed by a matching PATH_RESPONSE. */
  validated = 0;
  /** Validations given up after `tries` unanswered challenges. */
  failed = 0;

  constructor(
    private readonly clock: Clock,
    private readonly random: RandomBytes,
    private readonly tries: number,
    private readonly hooks: PathValidatorHooks,
  ) {}

  /** Is `path` the one being validated? */
  isValidating(path: SessionPath): boolean {
    return this.current !== undefined && samePath(this.current.path, path);
  }

  /** Challenge `from` (unless it is already being challenged), dropping any other validation. */
  start(from: SessionPath): void {
    if (this.isValidating(from)) return;
    this.cancel();
    this.current = { path: from, data: this.random(PATH_DATA_BYTES), tries: 0, timer: undefined };
    this.hooks.challenged(from);
    this.challenge();
  }

  /** A PATH_RESPONSE arrived on `from`: true when it completes the validation of `from`. */
  onResponse(data: Uint8Array, from: SessionPath): boolean {
    const v = this.current;
    if (!v || !equalBytes(v.data, data) || !samePath(v.path, from)) return false;
    this.cancel();
    this.validated++;
    return true;
  }

  /** Stop validating (the owner chose a path, or the session ended). Idempotent. */
  cancel(): void {
    if (this.current) this.clock.clearTimeout(this.current.timer);
    this.current = undefined;
  }

  private challenge(): void {
    const v = this.current;
    if (!v) return;
    if (v.tries >= this.tries) {
      this.failed++;
      this.cancel();
      return;
    }
    v.tries++;
    this.challenges++;
    this.hooks.sendChallenge(v.path, v.data);
    v.timer = this.clock.setTimeout(() => {
      if (this.current === v) this.challenge();
    }, this.hooks.retryDelayMs());
  }
}
