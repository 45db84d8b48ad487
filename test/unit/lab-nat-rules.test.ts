import { describe, expect, it } from 'vitest';
import { natRules, toCommands, toRestoreInput } from '../../common/lab/nat.js';

/** The lab's iptables rules as data (common/lab/nat.ts): pure, so checked here without a lab. */
describe('lab NAT rules', () => {
  it('a cone NAT with the defaults: MASQUERADE keeping ports, then the four home-router rules', () => {
    expect(toCommands(natRules({ kind: 'cone' }))).toEqual([
      'iptables -t nat -A POSTROUTING -o wan -j MASQUERADE',
      'iptables -t filter -A INPUT -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
      'iptables -t filter -A INPUT -i wan -j DROP',
      'iptables -t filter -A FORWARD -i wan -o lan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
      'iptables -t filter -A FORWARD -i wan -o lan -j DROP',
    ]);
  });

  it('symmetric, lossy, UDP blocked, no home-router rules: each option adds exactly its rules, in order', () => {
    const rules = natRules({ kind: 'symmetric', loss: 0.25, udpBlocked: true, dropUnsolicited: false });
    expect(toCommands(rules)).toEqual([
      'iptables -t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully',
      'iptables -t filter -A FORWARD -i wan -m statistic --mode random --probability 0.25 -j DROP',
      'iptables -t filter -A FORWARD -o wan -m statistic --mode random --probability 0.25 -j DROP',
      'iptables -t filter -A FORWARD -i lan -o wan -p udp -j DROP',
    ]);
    expect(rules.every((r) => r.why.length > 0)).toBe(true);
  });

  it('loss 0 adds no rule; loss outside 0..1 is refused', () => {
    expect(natRules({ kind: 'cone', loss: 0, dropUnsolicited: false })).toHaveLength(1);
    expect(() => natRules({ kind: 'cone', loss: 1.5 })).toThrow(/loss must be within 0..1/);
    expect(() => natRules({ kind: 'cone', loss: Number.NaN })).toThrow(/loss must be within 0..1/);
  });

  it('two calls share nothing: changing one result leaves the next intact', () => {
    const first = natRules({ kind: 'cone' });
    first[1]!.args.push('--tampered');
    expect(toCommands(natRules({ kind: 'cone' }))[1]).not.toContain('--tampered');
  });

  it('iptables-restore input declares both tables and commits each', () => {
    const text = toRestoreInput(natRules({ kind: 'cone', dropUnsolicited: false }));
    expect(text).toBe(
      [
        '*nat',
        ':PREROUTING ACCEPT [0:0]',
        ':INPUT ACCEPT [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        ':POSTROUTING ACCEPT [0:0]',
        '-A POSTROUTING -o wan -j MASQUERADE',
        'COMMIT',
        '*filter',
        ':INPUT ACCEPT [0:0]',
        ':FORWARD ACCEPT [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        'COMMIT',
      ].join('\n') + '\n',
    );
  });
});
