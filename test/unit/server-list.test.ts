import { describe, expect, it } from 'vitest';
import { MAX_SERVERS, parseServerList, resolveServerList } from '../../peer/cli/server-flag.js';

const FP_A = '00112233445566778899aabbccddeeff';
const FP_B = 'ffeeddccbbaa99887766554433221100';

const refused = (text: string, message: RegExp): void => {
  expect(() => parseServerList(text)).toThrow(
    expect.objectContaining({ code: 'BAD_ARGUMENT', message: expect.stringMatching(message) }),
  );
};

describe('--server with several servers (peer/cli/server-flag.ts parseServerList)', () => {
  it('takes a list in order, each entry as one --server', () => {
    expect(parseServerList('a.example:7000, 192.0.2.1:7001,wss://relay.example/x')).toEqual([
      { host: 'a.example', port: 7000, relayUrl: 'ws://a.example:7000/', url: false },
      { host: '192.0.2.1', port: 7001, relayUrl: 'ws://192.0.2.1:7001/', url: false },
      { host: 'relay.example', port: 443, relayUrl: 'wss://relay.example/x', url: true },
    ]);
  });

  it("a fingerprint per entry is that entry's; one on the last entry alone applies to all", () => {
    expect(parseServerList(`a:7000#${FP_A},b:7000#${FP_B}`).map((s) => s.fingerprint)).toEqual([FP_A, FP_B]);
    expect(parseServerList(`a:7000,b:7000,c:7000#${FP_A}`).map((s) => s.fingerprint)).toEqual([
      FP_A,
      FP_A,
      FP_A,
    ]);
    expect(parseServerList(`a:7000#${FP_B},b:7000,c:7000#${FP_A}`).map((s) => s.fingerprint)).toEqual([
      FP_B,
      undefined,
      FP_A,
    ]);
  });

  it('refuses empty entries, bad ports, duplicates, bad fingerprints and more than the cap, saying which', () => {
    refused('', /entry 1 of 1 is empty/);
    refused('a:7000,,b:7000', /entry 2 of 3 is empty/);
    refused('a:7000,', /entry 2 of 2 is empty/);
    refused('a:7000,b:0', /port/);
    refused('a:7000,b:70000', /port/);
    refused('a:7000,b', /b/);
    refused('a:7000,A:7000', /a:7000 is listed twice/);
    refused('a:7000,b:7000#nothex', /fingerprint/);
    const many = Array.from({ length: MAX_SERVERS + 1 }, (_, i) => `h${i}:7000`).join(',');
    refused(many, new RegExp(`at most ${MAX_SERVERS}`));
    expect(parseServerList(many.split(',').slice(0, MAX_SERVERS).join(','))).toHaveLength(MAX_SERVERS);
  });
});

describe('a --server name with several A records (resolveServerList, through the lookup seam)', () => {
  it('is one server per address, each with its own relay and pinned by address', async () => {
    const asked: string[] = [];
    const lookup = async (host: string): Promise<string[]> => {
      asked.push(host);
      return host === 'rdv.example' ? ['203.0.113.10', '203.0.113.20'] : ['192.0.2.7'];
    };
    const out = await resolveServerList(
      parseServerList(`rdv.example:7000#${FP_B},solo.example:7001#${FP_A}`),
      lookup,
    );
    expect(asked).toEqual(['rdv.example', 'solo.example']);
    expect(out).toEqual([
      {
        server: { address: '203.0.113.10', port: 7000 },
        relayUrl: 'ws://203.0.113.10:7000/',
        fingerprint: FP_B,
        name: '203.0.113.10:7000',
      },
      {
        server: { address: '203.0.113.20', port: 7000 },
        relayUrl: 'ws://203.0.113.20:7000/',
        fingerprint: FP_B,
        name: '203.0.113.20:7000',
      },
      // One address: named and relayed as given (servers.json keeps its old key).
      {
        server: { address: '192.0.2.7', port: 7001 },
        relayUrl: 'ws://solo.example:7001/',
        fingerprint: FP_A,
        name: 'solo.example:7001',
      },
    ]);
  });

  it('a name without addresses, or too many addresses in all, is BAD_ARGUMENT', async () => {
    await expect(resolveServerList(parseServerList('nx.example:7000'), async () => [])).rejects.toMatchObject(
      {
        code: 'BAD_ARGUMENT',
        message: expect.stringMatching(/cannot resolve host "nx.example"/),
      },
    );
    await expect(
      resolveServerList(parseServerList('nx.example:7000'), () => Promise.reject(new Error('ENOTFOUND'))),
    ).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    const wide = async (): Promise<string[]> => Array.from({ length: 9 }, (_, i) => `192.0.2.${i + 1}`);
    await expect(resolveServerList(parseServerList('a:1,b:2'), wide)).rejects.toMatchObject({
      message: expect.stringMatching(new RegExp(`18 servers; at most ${MAX_SERVERS}`)),
    });
  });
});
