/** nat-check's pure reasoning (peer/nat-check/classify.ts and the parts it joins) and its output (format.ts), with tables. */
import { describe, expect, it } from 'vitest';
import type { NatType } from '../../common/nat-behaviour.js';
import { classifyNat } from '../../peer/nat-check/classify.js';
import { isUntranslated } from '../../peer/nat-check/mapping.js';
import { natTypeName, possibleTypes } from '../../peer/nat-check/nat-type.js';
import {
  BY_PORT_SEARCH,
  describeTypes,
  lostIfAddressDependent,
  predict,
} from '../../peer/nat-check/paths.js';
import { sendTimes } from '../../peer/nat-check/stun-client.js';
import type {
  BindingOutcome,
  FilteringObservation,
  NatCheckObservations,
  RelayObservation,
} from '../../peer/nat-check/types.js';
import { formatJson, formatReport } from '../../peer/nat-check/format.js';

const SERVER = { address: '203.0.113.10', port: 7000 };
const ALT = { address: '203.0.113.10', port: 7001 };
const LOCAL = { address: '0.0.0.0', port: 40000 };
const PUB = { address: '203.0.113.20', port: 40000 };
const RELAY_UP: RelayObservation = { url: 'ws://203.0.113.10:7000/', reachable: true, ms: 4 };
const RELAY_DOWN: RelayObservation = { url: 'ws://203.0.113.10:7000/', reachable: false, error: 'refused' };

const answer = (mapped = PUB, from = SERVER): BindingOutcome => ({
  ok: true,
  mapped,
  from,
  rttMs: 2,
  tries: 1,
});
const silence: BindingOutcome = { ok: false, tries: 4, waitedMs: 3000 };
const F = {
  otherPort: { kind: 'other-port', from: ALT, tries: 1 },
  noAnswer: { kind: 'no-answer', tries: 4, waitedMs: 3000 },
  refused: { kind: 'refused', error: '420 Unknown Attribute' },
  samePort: { kind: 'same-port', from: SERVER },
  notRun: { kind: 'not-run' },
} satisfies Record<string, FilteringObservation>;

function obs(over: Partial<NatCheckObservations>): NatCheckObservations {
  return {
    server: SERVER,
    local: LOCAL,
    localAddresses: ['10.1.0.2'],
    primary: answer(),
    alt: { endpoint: ALT, source: 'other-address' },
    filtering: F.noAnswer,
    secondary: answer(PUB, ALT),
    relay: RELAY_UP,
    ...over,
  };
}

describe('classifyNat: observations to findings', () => {
  it.each([
    // name, observations, udp, nat, mapping, filtering, nat type
    [
      'port-restricted cone',
      {},
      'ok',
      'yes',
      'endpoint-independent',
      'address-and-port-dependent',
      'port-restricted cone',
    ],
    [
      'full or restricted cone',
      { filtering: F.otherPort },
      'ok',
      'yes',
      'endpoint-independent',
      'endpoint-independent-or-address-dependent',
      'full cone or restricted cone',
    ],
    [
      'symmetric',
      { secondary: answer({ address: PUB.address, port: 51000 }, ALT) },
      'ok',
      'yes',
      'dependent',
      'address-and-port-dependent',
      'symmetric',
    ],
    [
      'symmetric with a lenient filter',
      { secondary: answer({ address: PUB.address, port: 51000 }, ALT), filtering: F.otherPort },
      'ok',
      'yes',
      'dependent',
      'endpoint-independent-or-address-dependent',
      'symmetric mapping with a lenient filter',
    ],
    [
      'no NAT, open',
      {
        primary: answer({ address: '10.1.0.2', port: 40000 }),
        secondary: answer({ address: '10.1.0.2', port: 40000 }, ALT),
        filtering: F.otherPort,
      },
      'ok',
      'none',
      'endpoint-independent',
      'endpoint-independent-or-address-dependent',
      'no NAT, no filtering of unknown ports',
    ],
    [
      'no NAT, stateful firewall',
      {
        primary: answer({ address: '10.1.0.2', port: 40000 }),
        secondary: answer({ address: '10.1.0.2', port: 40000 }, ALT),
      },
      'ok',
      'none',
      'endpoint-independent',
      'address-and-port-dependent',
      'no NAT, behind a stateful firewall',
    ],
    [
      'UDP blocked',
      { primary: silence, filtering: F.notRun, secondary: 'not-run' as const },
      'blocked',
      'unknown',
      'unknown',
      'unknown',
      'unknown',
    ],
    [
      'server without an alternate port',
      { filtering: F.refused, secondary: 'not-run' as const, alt: undefined },
      'ok',
      'yes',
      'unknown',
      'unknown',
      'NAT (behaviour unknown)',
    ],
    [
      'alternate port unreachable: no APDF conclusion from silence',
      { secondary: silence },
      'ok',
      'yes',
      'unknown',
      'unknown',
      'NAT (behaviour unknown)',
    ],
    [
      'a server that ignores CHANGE-REQUEST',
      { filtering: F.samePort },
      'ok',
      'yes',
      'endpoint-independent',
      'unknown',
      'cone (filtering unknown)',
    ],
    [
      'the server answers with an error: UDP works, nothing else known',
      {
        primary: { ok: false, tries: 1, waitedMs: 3, error: '400 Bad Request' },
        filtering: F.notRun,
        secondary: 'not-run' as const,
      },
      'ok',
      'unknown',
      'unknown',
      'unknown',
      'unknown',
    ],
  ] as const)('%s', (_name, over, udp, nat, mapping, filtering, name) => {
    const r = classifyNat(obs(over));
    expect({
      udp: r.udp,
      nat: r.nat,
      mapping: r.mapping,
      filtering: r.filtering,
      name: r.natType.name,
    }).toEqual({
      udp,
      nat,
      mapping,
      filtering,
      name,
    });
  });

  it('gives the evidence for each finding, e.g. the mapped address seen by both ports', () => {
    const r = classifyNat(obs({}));
    const by = Object.fromEntries(r.findings.map((f) => [f.topic, f]));
    expect(by.mapping).toEqual({
      topic: 'mapping',
      result: 'endpoint-independent',
      evidence: '203.0.113.20:40000 seen by both 7000 and 7001',
    });
    expect(by.filtering!.evidence).toBe(
      'no answer from port 7001 to a request sent to 7000 after 4 tries in 3000 ms, while plain requests to both ports were answered',
    );
    expect(by.public!.evidence).toBe('NAT: your socket is port 40000 on 10.1.0.2; the NAT kept the port');
    expect(by['nat type']).toMatchObject({ result: 'port-restricted cone', evidence: 'EIM/APDF' });
    expect(by.relay!.evidence).toBe('ws://203.0.113.10:7000/ accepted a connection in 4 ms');
  });

  it('says what a dependent mapping saw; only the port differed, so it is APDM', () => {
    const r = classifyNat(obs({ secondary: answer({ address: PUB.address, port: 51000 }, ALT) }));
    expect(r.natType).toEqual({ name: 'symmetric', label: 'APDM/APDF' });
    const other = { address: '198.51.100.1', port: 3479 };
    const rfc5780 = classifyNat(
      obs({
        alt: { endpoint: other, source: 'other-address' },
        secondary: answer({ address: PUB.address, port: 51000 }, other),
      }),
    );
    expect(rfc5780.natType.label).toBe('ADM|APDM/APDF');
    expect(rfc5780.findings.find((f) => f.topic === 'mapping')!.evidence).toMatch(
      /^a new public port per destination:/,
    );
    expect(r.findings.find((f) => f.topic === 'mapping')!.evidence).toBe(
      'a new public port per destination port: 7000 saw 203.0.113.20:40000, 7001 saw 203.0.113.20:51000',
    );
    expect(r.notes.join(' ')).toMatch(/address-and-port-dependent \(APDM\).*"symmetric"/);
  });

  it('UDP blocked: the reason depends on whether the relay answered over TCP', () => {
    const up = classifyNat(obs({ primary: silence, filtering: F.notRun, secondary: 'not-run' }));
    expect(up.findings[0]!.evidence).toBe(
      'no answer from 203.0.113.10:7000 after 4 tries in 3000 ms: the server is up, its relay answered over TCP: UDP is blocked on the way',
    );
    const down = classifyNat(
      obs({ primary: silence, filtering: F.notRun, secondary: 'not-run', relay: RELAY_DOWN }),
    );
    expect(down.findings[1]!.evidence).toMatch(/UDP blocked or the server unreachable over UDP$/);
    // Neither transport answered: the server is unreachable, and nothing is predicted.
    expect(down.findings.map((f) => [f.topic, f.result])).toEqual([
      ['server', 'unreachable'],
      ['udp', 'blocked'],
      ['relay', 'unreachable'],
    ]);
    expect(down).toMatchObject({ serverReachable: 'no', predictions: [] });
    expect(up).toMatchObject({ serverReachable: 'yes' });
    expect(up.predictions.length).toBeGreaterThan(0);
  });

  it('notes a guessed alternate port when nothing answered there', () => {
    const guessed = { endpoint: ALT, source: 'port+1' } as const;
    expect(classifyNat(obs({ alt: guessed })).notes.join(' ')).not.toMatch(/assumed/);
    const r = classifyNat(obs({ alt: guessed, secondary: silence }));
    expect(r.notes.join(' ')).toMatch(/Port 7001 was assumed .* give the same --alt-port here/);
  });
});

describe('predict: direct or relay against each remote NAT', () => {
  const table = (
    udp: 'ok' | 'blocked',
    m: Parameters<typeof predict>[1],
    f: Parameters<typeof predict>[2],
    relay?: RelayObservation,
    dependent?: 'APDM' | 'ADM|APDM',
  ) =>
    predict(udp, m, f, relay, dependent).map(
      (p) => `${p.remote}: ${p.path}${p.certain ? '' : '?'}${p.why === BY_PORT_SEARCH ? ' (search)' : ''}`,
    );

  it.each([
    [
      // Against a symmetric NAT the port search finds the path (portSearchFinds); an ADM NAT,
      // which one server address shows as EIM, would not: the note says so (notesOn).
      'EIM/APDF (port-restricted cone)',
      'endpoint-independent',
      'address-and-port-dependent',
      undefined,
      [
        'full cone: direct',
        'restricted cone: direct',
        'port-restricted cone: direct',
        'symmetric: direct (search)',
        'no NAT: direct',
      ],
    ],
    [
      // Plain punching gets in here already (the filter ignores the port): no "by a port search".
      'EIM/EIF|ADF',
      'endpoint-independent',
      'endpoint-independent-or-address-dependent',
      undefined,
      [
        'full cone: direct',
        'restricted cone: direct',
        'port-restricted cone: direct',
        'symmetric: direct',
        'no NAT: direct',
      ],
    ],
    [
      // Only the server port differed: APDM for sure, which the peer's own measurement sees too,
      // so a port-restricted cone peer probes for one of our 256 ports.
      'APDM/APDF (symmetric, one server address)',
      'dependent',
      'address-and-port-dependent',
      'APDM',
      [
        'full cone: direct',
        'restricted cone: direct',
        'port-restricted cone: direct (search)',
        'symmetric: relay',
        'no NAT: direct',
      ],
    ],
    [
      // A second server address saw the new port: ADM is possible, and ADM gets no search.
      'ADM|APDM/APDF (symmetric, another server address)',
      'dependent',
      'address-and-port-dependent',
      'ADM|APDM',
      [
        'full cone: direct',
        'restricted cone: direct',
        'port-restricted cone: relay?',
        'symmetric: relay',
        'no NAT: direct',
      ],
    ],
    [
      'APDM/unknown: the search does not care about our filtering; two symmetric NATs still relay',
      'dependent',
      'unknown',
      'APDM',
      [
        'full cone: direct',
        'restricted cone: direct',
        'port-restricted cone: direct (search)',
        'symmetric: relay',
        'no NAT: direct',
      ],
    ],
    [
      // EIF|ADF: plain punching; APDF: the port search. Direct either way.
      'EIM/unknown: direct against symmetric peers whatever the filtering',
      'endpoint-independent',
      'unknown',
      undefined,
      [
        'full cone: direct',
        'restricted cone: direct',
        'port-restricted cone: direct',
        'symmetric: direct',
        'no NAT: direct',
      ],
    ],
    [
      'unknown/unknown',
      'unknown',
      'unknown',
      undefined,
      [
        'full cone: direct',
        'restricted cone: direct',
        'port-restricted cone: relay?',
        'symmetric: relay?',
        'no NAT: direct',
      ],
    ],
  ] as const)('%s', (_name, m, f, dependent, expected) => {
    expect(table('ok', m, f, RELAY_UP, dependent)).toEqual(expected);
  });

  it('says how a direct path opens when only the port search finds it', () => {
    const p = predict('ok', 'endpoint-independent', 'address-and-port-dependent', RELAY_UP).find(
      (x) => x.remote === 'symmetric',
    )!;
    expect(p).toMatchObject({ path: 'direct', certain: true });
    expect(p.why).toMatch(/^by a port search: .* opens 256 of them, .* within 3 s$/);
  });

  it('says why a verdict is uncertain', () => {
    const p = predict('ok', 'unknown', 'unknown', RELAY_UP).find((x) => x.remote === 'symmetric')!;
    expect(p.why).toBe(
      "direct only if your NAT's mapping is endpoint-independent, which this check could not tell",
    );
    const q = predict('ok', 'unknown', 'unknown', undefined).find(
      (x) => x.remote === 'port-restricted cone',
    )!;
    expect(q.why).toMatch(
      /^direct only if your NAT's mapping is endpoint-independent or address-and-port-dependent,/,
    );
    const r = predict('ok', 'dependent', 'address-and-port-dependent', RELAY_UP, 'ADM|APDM').find(
      (x) => x.remote === 'port-restricted cone',
    )!;
    expect(r.why).toBe(
      "direct (by a port search) only if your NAT's mapping is address-and-port-dependent, which this check could not tell",
    );
  });

  it('no UDP: relay for everyone; no relay either: no path', () => {
    expect(table('blocked', 'unknown', 'unknown', RELAY_UP).every((l) => l.endsWith(': relay'))).toBe(true);
    expect(table('blocked', 'unknown', 'unknown', RELAY_DOWN).every((l) => l.endsWith(': none'))).toBe(true);
    expect(table('ok', 'dependent', 'address-and-port-dependent', RELAY_DOWN)).toContain('symmetric: none');
  });
});

describe('helpers', () => {
  it.each([
    [3000, [0, 250, 750, 1750]],
    [1000, [0, 250, 750]],
    [100, [0]],
    [10_000, [0, 250, 750, 1750, 3750, 5750, 7750, 9750]],
  ])('sendTimes(%i) = %j (250 ms doubling, capped at 2 s)', (timeout, times) => {
    expect(sendTimes(timeout)).toEqual(times);
  });

  it.each([
    [{ address: '10.1.0.2', port: 40000 }, true],
    [{ address: '127.0.0.1', port: 40000 }, true],
    [{ address: '203.0.113.20', port: 40000 }, false],
    [{ address: '10.1.0.2', port: 40001 }, false],
  ])('isUntranslated(%j) = %s', (mapped, expected) => {
    expect(isUntranslated(mapped, LOCAL, ['10.1.0.2'])).toBe(expected);
  });

  it('possibleTypes: the types consistent with the findings', () => {
    expect(possibleTypes('endpoint-independent', 'address-and-port-dependent')).toHaveLength(1);
    expect(possibleTypes('dependent', 'endpoint-independent-or-address-dependent')).toHaveLength(4);
    expect(possibleTypes('unknown', 'unknown')).toHaveLength(9);
    // Only the server port differed: address-and-port-dependent, not address-dependent.
    expect(possibleTypes('dependent', 'address-and-port-dependent', 'APDM')).toEqual([
      { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent' },
    ]);
  });

  it('lostIfAddressDependent: what an ADM NAT (shown as EIM) would lose, said in the note', () => {
    const lenient = 'endpoint-independent-or-address-dependent';
    for (const f of ['address-and-port-dependent', lenient] as const)
      expect(lostIfAddressDependent(f)).toEqual(['port-restricted cone', 'symmetric']);
    expect(classifyNat(obs({})).notes[0]).toMatch(
      /assume endpoint-independent; an address-dependent one would take the relay with port-restricted cone and symmetric peers\.$/,
    );
  });

  it('describeTypes names a whole dimension when it can', () => {
    const own = possibleTypes('unknown', 'address-and-port-dependent');
    const eim: NatType[] = own.filter((t) => t.mapping === 'endpoint-independent');
    expect(describeTypes(eim, own)).toBe("your NAT's mapping is endpoint-independent");
    expect(describeTypes([own[0]!, own[1]!], possibleTypes('unknown', 'unknown'))).toBe(
      'your NAT is EIM/APDF or ADM/APDF',
    );
  });

  it.each([
    ['yes', 'endpoint-independent', 'address-and-port-dependent', 'port-restricted cone', 'EIM/APDF'],
    ['yes', 'dependent', 'address-and-port-dependent', 'symmetric', 'ADM|APDM/APDF'],
    [
      'yes',
      'dependent',
      'endpoint-independent-or-address-dependent',
      'symmetric mapping with a lenient filter',
      'ADM|APDM/EIF|ADF',
    ],
    ['yes', 'unknown', 'unknown', 'NAT (behaviour unknown)', '?M/?F'],
    ['none', 'endpoint-independent', 'unknown', 'no NAT', 'EIM/?F'],
    ['unknown', 'unknown', 'unknown', 'unknown', '?M/?F'],
  ] as const)('natTypeName(%s, %s, %s) = %s (%s)', (nat, m, f, name, label) => {
    expect(natTypeName(nat, m, f)).toEqual({ name, label });
  });
});

describe('format', () => {
  it('prints one line per finding with its evidence, then the table and notes', () => {
    const lines = formatReport(classifyNat(obs({})));
    expect(lines[0]).toBe(
      'punchline nat-check: server 203.0.113.10:7000, alternate port 7001, local socket 0.0.0.0:40000',
    );
    expect(lines).toContain(
      'mapping:   endpoint-independent (203.0.113.20:40000 seen by both 7000 and 7001)',
    );
    expect(lines).toContain('nat type:  port-restricted cone (EIM/APDF)');
    expect(lines).toContain('  port-restricted cone  EIM/APDF   direct');
    expect(lines).toContain(`  symmetric             APDM/APDF  direct (${BY_PORT_SEARCH})`);
    expect(lines).toContain('Notes:');
  });

  it('marks uncertain verdicts and no-path ones', () => {
    const lines = formatReport(classifyNat(obs({ secondary: silence, relay: RELAY_DOWN })));
    expect(lines.find((l) => l.startsWith('  symmetric'))).toMatch(/no path \(probably: direct only if/);
    const sym = formatReport(
      classifyNat(obs({ secondary: answer({ address: PUB.address, port: 51000 }, ALT), relay: RELAY_DOWN })),
    );
    expect(sym.find((l) => l.startsWith('  symmetric'))).toMatch(/no path \(no direct path between/);
  });

  it('--json is the report as one line of JSON', () => {
    const r = classifyNat(obs({}));
    const text = formatJson(r);
    expect(text).not.toContain('\n');
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(r)));
  });
});
