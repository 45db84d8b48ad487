/**
 * Turns demo events (events.ts) into the story printed by `punchline demo`, for the simulated
 * run (scenario.ts) and the real-NAT one (real.ts) alike: each step is one plain sentence for
 * someone who has never heard of NATs, with the technical detail under it. What it remembers
 * is in story.ts; what it says about each kind of event is in tell-setup.ts, tell-punch.ts and
 * tell-session.ts, the port search in tell-search.ts and --transfer in tell-transfer.ts.
 */
import type { DemoEvent, DemoEventOf } from './events.js';
import { Story } from './story.js';
import * as setup from './tell-setup.js';
import * as punch from './tell-punch.js';
import * as session from './tell-session.js';
import * as search from './tell-search.js';
import * as transfer from './tell-transfer.js';

type Teller<T extends DemoEvent['type']> = (s: Story, e: DemoEventOf<T>) => string[];

/** Who tells each kind of event. */
const TELLERS: { [T in DemoEvent['type']]: Teller<T> } = {
  setup: setup.tellSetup,
  topology: setup.tellTopology,
  keys: setup.tellKeys,
  lab: setup.tellLab,
  'rendezvous-up': setup.tellRendezvousUp,
  'chat-started': setup.tellChatStarted,
  registered: setup.tellRegistered,
  presence: setup.tellPresence,
  connect: setup.tellConnect,
  mapping: punch.tellMapping,
  introduced: punch.tellIntroduced,
  probe: punch.tellProbe,
  'probe-in': punch.tellProbeIn,
  answer: punch.tellAnswer,
  chosen: punch.tellChosen,
  'punch-failed': punch.tellPunchFailed,
  search: search.tellSearch,
  'search-hit': search.tellSearchHit,
  'search-end': search.tellSearchEnd,
  drop: punch.tellDrop,
  connected: session.tellConnected,
  path: session.tellPath,
  'transfer-start': transfer.tellTransferStart,
  'transfer-progress': transfer.tellTransferProgress,
  'transfer-end': transfer.tellTransferEnd,
  sent: session.tellSent,
  message: session.tellMessage,
  delivered: session.tellDelivered,
  stats: session.tellStats,
  error: session.tellError,
  summary: session.tellSummary,
};

export class Narrator {
  private readonly story: Story;

  /** `quiet`: tell only the summary. */
  constructor(quiet = false) {
    this.story = new Story(quiet);
  }

  /** The lines this event adds to the story (possibly none). */
  lines(e: DemoEvent): string[] {
    const s = this.story;
    const out: string[] = [];
    // A probe round ends at the first event that is not one more probe of it.
    if (s.round.length > 0 && !(e.type === 'probe' && this.sameRound(e))) out.push(...punch.flushRound(s));
    out.push(...(TELLERS[e.type] as Teller<typeof e.type>)(s, e));
    return s.quiet && e.type !== 'summary' ? [] : out;
  }

  private sameRound(e: DemoEventOf<'probe'>): boolean {
    const first = this.story.round[0]!;
    return e.peer === first.peer && e.t === first.t;
  }
}
