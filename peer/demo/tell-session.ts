/**
 * The encrypted session, told from demo events (events.ts): it opens (directly or over the
 * relay), moves between paths, carries the message and its receipt; errors; the summary.
 */
import type { DemoEventOf } from './events.js';
import { other } from './events.js';
import { ms, step } from './format.js';
import type { Story } from './story.js';
import { summaryLines } from './summary.js';
import { kib } from './tell-transfer.js';

type Lines = string[];

const MOVED_OFF_RELAY = (peer: string): string =>
  `The direct path works, so ${peer}'s session moves off the relay onto it, without losing a message.`;

export function tellConnected(s: Story, e: DemoEventOf<'connected'>): Lines {
  if (e.path === 'relay') {
    s.relayed.add(e.peer);
    return step(
      e.t,
      s.once('relay')
        ? `The relay takes over: the rendezvous forwards ${e.peer}'s and ${other(e.peer)}'s packets. ` +
            `They are still encrypted end to end: the server passes on bytes it cannot read.`
        : `${e.peer}'s side of the relayed session is open too.`,
      `${e.peer}: session open over the relay, ${e.ms} ms after the introduction`,
    );
  }
  if (s.relayed.has(e.peer))
    return step(e.t, MOVED_OFF_RELAY(e.peer), `${e.peer}: path direct to ${e.remote}`);
  return step(
    e.t,
    s.once('session')
      ? `${e.peer} and ${other(e.peer)} have finished an encrypted handshake (Noise XX) over the direct ` +
          `path: each proved it holds the key behind its id, and they agreed on fresh keys only the two ` +
          `of them know.`
      : `${e.peer}'s side of the encrypted session is open too.`,
    `${e.peer}: session open to ${e.remote}, ${e.ms} ms after the introduction`,
  );
}

export function tellPath(s: Story, e: DemoEventOf<'path'>): Lines {
  if (e.path === 'relay') s.relayed.add(e.peer);
  // --transfer under way: it rides the same session, so it carries on from where it was.
  const sofar =
    e.transferred !== undefined
      ? ` The transfer carries on from where it was: ${kib(e.transferred)} had reached bob so far.`
      : '';
  return step(
    e.t,
    (e.path === 'direct' ? MOVED_OFF_RELAY(e.peer) : `${e.peer}'s session now runs over the relay.`) + sofar,
    `path ${e.path}${e.remote ? ` ${e.remote}` : ''}` +
      (e.transferred !== undefined
        ? `; ${e.transferred.toLocaleString('en-US')} bytes of the transfer at bob`
        : ''),
  );
}

export function tellSent(s: Story, e: DemoEventOf<'sent'>): Lines {
  const machine = s.real ? 'namespace' : 'computer';
  return step(
    e.t,
    `${e.peer} sends ${e.to} a message. It is encrypted before it leaves ${e.peer}'s ${machine}.`,
    `"${e.text}"${e.id !== undefined ? ` (id ${e.id})` : ''}`,
  );
}

export function tellMessage(_s: Story, e: DemoEventOf<'message'>): Lines {
  return step(
    e.t,
    `${e.peer} receives it and decrypts it (only ${e.peer}'s session keys can), then sends back a receipt.`,
    `from ${e.from}: "${e.text}"`,
  );
}

export function tellDelivered(_s: Story, e: DemoEventOf<'delivered'>): Lines {
  return step(
    e.t,
    `${e.peer} gets ${e.to}'s receipt: the message arrived. Round trip: ${ms(e.rttMs)}.`,
    `receipt for ${e.id}`,
  );
}

export function tellStats(_s: Story, e: DemoEventOf<'stats'>): Lines {
  const rtt = (v: number | undefined): string => (v === undefined ? '?' : String(v));
  return step(
    e.t,
    `${e.peer}'s session stats: the round trip, measured by the session itself.`,
    `path ${e.path}, rtt ${rtt(e.rttMs)} ms (smoothed), min ${rtt(e.minRttMs)} ms`,
  );
}

export function tellError(s: Story, e: DemoEventOf<'error'>): Lines {
  const detail = `${e.code}: ${e.message}`;
  if (e.code === 'PUNCH_FAILED') {
    if (!s.once('punch error')) return [];
    return s.hasTold('relay')
      ? step(e.t, 'Punching gives up, so the chat stays on the relay.', detail)
      : step(e.t, `The connection attempt ends (both sides give up on their own).`, detail);
  }
  if (e.code === 'SERVER_UNREACHABLE')
    return step(
      e.t,
      `${e.peer}'s packets to the rendezvous keep getting lost; ${e.peer} will try again shortly.`,
      detail,
    );
  return step(e.t, `${e.peer} reports an error.`, detail);
}

export function tellSummary(s: Story, e: DemoEventOf<'summary'>): Lines {
  return [
    ...(s.quiet ? [] : ['']),
    ...summaryLines(e.outcome, {
      facts: (w) => s.facts(w),
      ...(s.setup ? { setup: s.setup } : {}),
      ...(s.topo ? { topology: s.topo } : {}),
    }),
  ];
}
