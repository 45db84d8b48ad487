import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../../common/identity/identity.js';
import { silentLogger } from '../../common/log.js';
import { MsgType } from '../../common/wire/constants.js';
import { decode } from '../../common/wire/messages.js';
import { RendezvousClient } from '../../peer/rendezvous-client.js';
import { ServerKeyPin } from '../../peer/server-pin.js';
import { presencePackets } from '../../rendezvous/presence.js';
import type { RendezvousOptions } from '../../rendezvous/server.js';
import { RENDEZVOUS_DEFAULTS as D } from '../../rendezvous/server.js';
import { rawRegister, sealed } from '../support/raw-register.js';
import { RDV } from '../relay/support/sim-relay.js';
import type { RelayWorld } from '../relay/support/sim-relay.js';
import { client, listIds, raw, roomIds, txid, world } from './support/rendezvous-speakers.js';

/**
 * Presence fan-out under load (docs/security.md "Server cost bounds", docs/protocol.md §6.6): a
 * join costs the joiner one full list and every other member one delta entry; a lost delta is
 * noticed and repaired, and full lists on request are rate limited per member.
 */

/**
 * Presence for `n` members joining one room, one every `gapMs`: what the server sent, and whether
 * every member ends with the complete list.
 */
async function presenceRun(
  n: number,
  options: RendezvousOptions,
  gapMs = 10,
): Promise<{
  datagrams: number;
  bytes: number;
  correct: number;
  w: RelayWorld;
  clients: RendezvousClient[];
}> {
  const w = await world({ maxRoomMembers: 1000, ...options }, 7);
  const clients: RendezvousClient[] = [];
  for (let i = 0; i < n; i++) {
    clients.push((await client(w, `10.${(i >> 8) + 1}.${i & 255}.1`, `m${i}`, 'big')).c);
    await w.sim.run(gapMs);
  }
  await w.run(() => clients.every((c) => c.state === 'registered'), 5000);
  await w.sim.run(2000);
  const ids = roomIds(w.server, 'big');
  const correct = clients.filter((c) => listIds(c).join() === ids.join()).length;
  const p = w.server.stats.presence;
  return {
    datagrams: p.datagrams.full + p.datagrams.delta,
    bytes: p.bytes.full + p.bytes.delta,
    correct,
    w,
    clients,
  };
}

/** What full lists to every member on every join cost for members m0..m(n-1): Σ k x list(k). */
function fullListCost(n: number): { datagrams: number; bytes: number } {
  let datagrams = 0;
  let bytes = 0;
  const members: { id: Uint8Array; name: string }[] = [];
  for (let k = 1; k <= n; k++) {
    members.push({ id: new Uint8Array(16), name: `m${k - 1}` });
    const packets = presencePackets(k, members);
    datagrams += k * packets.length;
    bytes += k * packets.reduce((a, p) => a + p.length, 0);
  }
  return { datagrams, bytes };
}

describe('server cost bounds: presence fan-out', () => {
  it('600 members join one room: deltas cost a small fraction of full lists, and every member ends with the complete list', async () => {
    // The baseline, measured (full lists to every member on every join) at 150 members, where it
    // is still quick to simulate; it matches the closed form, which then gives the 600 figure.
    const before150 = await presenceRun(150, { presenceFullLists: true });
    expect(before150.correct).toBe(150);
    expect({ datagrams: before150.datagrams, bytes: before150.bytes }).toEqual(fullListCost(150));
    before150.clients.forEach((c) => c.close(false));
    await before150.w.server.close();

    const after = await presenceRun(600, {});
    const before = fullListCost(600);
    expect(after.correct).toBe(600);
    expect(after.w.server.registry.size).toBe(600);
    const p = after.w.server.stats.presence;
    expect(p.resyncs).toBe(0);
    expect(before.datagrams / after.datagrams).toBeGreaterThan(50);
    expect(before.bytes / after.bytes).toBeGreaterThan(50);
    // The fan-out budget: no member received more deltas than the burst plus one per interval.
    const joinSpanMs = 600 * 10 + 2000;
    expect(p.datagrams.delta).toBeLessThanOrEqual(
      600 * (D.presenceBurst + Math.ceil(joinSpanMs / D.presenceIntervalMs)) * Math.ceil(600 / 23),
    );
    console.log(
      `presence, 600 members joining: full lists ${before.datagrams.toLocaleString('en-US')} datagrams / ${before.bytes.toLocaleString('en-US')} bytes; ` +
        `deltas ${after.datagrams.toLocaleString('en-US')} datagrams / ${after.bytes.toLocaleString('en-US')} bytes ` +
        `(full ${p.datagrams.full}, delta ${p.datagrams.delta}); ratio ${(before.datagrams / after.datagrams).toFixed(0)}x datagrams, ${(before.bytes / after.bytes).toFixed(0)}x bytes. ` +
        `150 members measured with full lists: ${before150.datagrams} datagrams`,
    );
    after.clients.forEach((c) => c.close(false));
    await after.w.server.close();
  }, 120_000);

  it('a member that misses a delta notices the gap at the next one and resyncs to the correct list', async () => {
    const w = await world();
    const cs: RendezvousClient[] = [];
    for (let i = 0; i < 4; i++) cs.push((await client(w, `10.9.0.${i + 1}`, `p${i}`, 'r')).c);
    await w.run(() => cs.every((c) => c.members.length === 4), 5000);
    // The network loses the next delta to p0.
    let lost = 0;
    const victim = await client(w, '10.9.0.9', 'victim', 'r', (m) => {
      if (m.type !== MsgType.PRESENCE_DELTA || lost > 0) return false;
      lost++;
      return true;
    });
    await w.run(() => victim.c.members.length === 5, 5000);
    cs.push((await client(w, '10.9.0.5', 'p4', 'r')).c); // the delta the victim loses
    await w.sim.run(500);
    expect(lost).toBe(1);
    expect(listIds(victim.c)).not.toEqual(roomIds(w.server, 'r'));
    cs.push((await client(w, '10.9.0.6', 'p5', 'r')).c); // the next delta: a gap
    await w.run(() => listIds(victim.c).join() === roomIds(w.server, 'r').join(), 5000);
    expect(victim.c.stats.presence_gaps).toBe(1);
    expect(victim.c.stats.presence_resyncs).toBe(1);
    expect(w.server.stats.presence.resyncs).toBe(1);
    for (const c of cs) expect(listIds(c)).toEqual(roomIds(w.server, 'r'));
    await w.server.close();
  });

  it('over the WebSocket (the relay channel client) a lost delta is noticed and resynced the same way', async () => {
    const w = await world();
    const a = await client(w, '10.7.0.1', 'a', 'r');
    const stream = await w.connect(w.host_('wsonly')); // UDP blocked there: a stream-only peer
    const rng = w.sim.rng('ws-client');
    const c = new RendezvousClient(
      { server: RDV, room: 'r', name: 'viaws', lan: [], keepaliveMs: 0, transport: 'ws' },
      {
        identity: generateIdentity(),
        clock: w.sim.clock,
        logger: silentLogger,
        send: (b) => void stream.send(b),
        randomBytes: (n) => rng.fill(new Uint8Array(n)),
        serverPin: new ServerKeyPin(),
      },
    );
    let lost = 0;
    stream.onMessage((d) => {
      const m = decode(d);
      if (m.type === MsgType.PRESENCE_DELTA && lost++ === 0) return;
      c.onMessage(m, d);
    });
    c.start();
    await w.run(() => c.members.length === 2 && a.c.members.length === 2, 5000);
    await client(w, '10.7.0.2', 'b', 'r'); // the delta the stream client loses
    await w.sim.run(500);
    await client(w, '10.7.0.3', 'd', 'r'); // the next one: a gap
    await w.run(() => listIds(c).join() === roomIds(w.server, 'r').join(), 5000);
    expect(lost).toBeGreaterThanOrEqual(2);
    expect(c.stats.presence_gaps).toBe(1);
    expect(w.server.stats.presence.resyncs).toBe(1);
    expect(w.server.registry.countByTransport().ws).toBe(1);
    await w.server.close();
  });

  it('a member that misses the last delta of a quiet room is repaired by its next KEEPALIVE', async () => {
    const w = await world();
    const a = await client(w, '10.8.0.1', 'a', 'r');
    let lost = 0;
    const b = await client(w, '10.8.0.2', 'b', 'r', (m) => m.type === MsgType.PRESENCE_DELTA && lost++ === 0);
    await w.run(() => a.c.members.length === 2 && b.c.members.length === 2, 5000);
    a.c.close(); // LEAVE: b loses the delta that says so
    await w.sim.run(1000);
    expect(lost).toBe(1);
    expect(b.c.members.length).toBe(2);
    await w.run(() => b.c.members.length === 1, D.keepaliveMs + 1000);
    expect(w.server.stats.presence.resyncs).toBe(1);
    await w.server.close();
  });

  it('a full list on request is rate limited per member (--presence-resync-ms)', async () => {
    const w = await world({ presenceResyncMs: 2000 });
    const r = await raw(w, '198.51.100.40');
    const idn = generateIdentity();
    const reg = rawRegister(idn, r.cookie, txid(), { room: 'r', name: 'asker' });
    r.sock.send(reg.bytes, RDV);
    await w.sim.run(100);
    const lists = (): number => r.inbox.filter((x) => x.m.type === MsgType.PRESENCE).length;
    expect(lists()).toBe(1); // on registration
    // 50 stale KEEPALIVEs in one second: one full list when the 2 s since the last one are up.
    for (let i = 0; i < 50; i++) {
      r.sock.send(
        sealed(reg.auth, { type: MsgType.KEEPALIVE, txid: txid(), id: idn.id, presenceVersion: 0 }),
        RDV,
      );
      await w.sim.run(20);
    }
    expect(lists()).toBe(1);
    await w.sim.run(1500);
    expect(lists()).toBe(2);
    expect(w.server.stats.presence.resyncs).toBe(1);
    expect(w.server.stats.presence.deferred.resync).toBe(1);
    await w.server.close();
  });
});
