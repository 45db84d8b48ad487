import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useProcesses } from '../support/proc.js';
import { HAVE_REDIS, NO_REDIS_REASON, RedisProcess } from '../support/redis.js';

const suite = HAVE_REDIS ? describe : describe.skip;
if (!HAVE_REDIS) console.warn(NO_REDIS_REASON);

suite('punchline rendezvous --redis (the real process, dist/)', () => {
  const { rendezvous, start, tmpDir } = useProcesses();
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = new RedisProcess();
    await redis.start();
  });
  afterAll(() => redis?.close());

  it('two processes form a cluster: /healthz ok, /metrics counts two nodes; the log names the node', async () => {
    const dir = await tmpDir();
    const flags = (id: string): string[] => [
      '--redis',
      redis.url,
      '--node-id',
      id,
      '--key',
      path.join(dir, `${id}.json`),
    ];
    const a = await rendezvous(flags('cli-a'));
    await rendezvous(flags('cli-b'));
    // a hears b's beats within a few of them (50 ms apart at most 300 times: a bounded poll).
    let metrics = '';
    for (let i = 0; i < 300 && !metrics.includes('punchline_cluster_nodes 2\n'); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      metrics = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
    }
    expect(metrics).toContain('punchline_cluster_nodes 2\n');
    expect(metrics).toContain('punchline_cluster_redis_up 1\n');
    const health = (await (await fetch(`http://127.0.0.1:${a.port}/healthz`)).json()) as Record<
      string,
      unknown
    >;
    expect(health.status).toBe('ok');
    expect(a.proc.stderr).toContain(`"redis":"${redis.url}`);
    expect(a.proc.stderr).toMatch(/"msg":"redis available".*"node":"cli-a"/);
  });

  it('a password in the URL is refused before anything starts, saying where it goes instead', async () => {
    const dir = await tmpDir();
    const p = start([
      'rendezvous',
      '--redis',
      'redis://u:secret@127.0.0.1:1',
      '--key',
      path.join(dir, 'k.json'),
    ]);
    expect(await p.exited).toBe(2);
    expect(p.stderr).toContain('PUNCHLINE_REDIS_PASSWORD');
  });
});
