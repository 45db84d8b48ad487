/**
 * `punchline demo --real`: the demo's story over the real-NAT lab, run as the CLI (needs the build
 * in dist/ and root). Each run builds and tears down its own namespaces (prefix pl-<pid>-...).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { listNamespaces } from '../../common/lab/index.js';
import { CLI } from '../support/proc.js';
import { describeLab } from './describe-lab.js';

interface Run {
  code: number | null;
  out: string;
  err: string;
  /** Namespace prefix the run printed (pl-<pid>-<hex>-). */
  prefix: string | undefined;
}

/** The demo run in progress, killed by afterEach should its test fail or time out first. */
let running: ChildProcess | undefined;
afterEach(() => {
  if (running && running.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
  running = undefined;
});

function demoReal(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'demo', '--real', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running = child;
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // SIGINT lets the demo tear its lab down; SIGKILL if it has not gone 5 s later.
    const timer = setTimeout(() => child.kill('SIGINT'), 50_000);
    const killer = setTimeout(() => child.kill('SIGKILL'), 55_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(killer);
      resolve({ code, out, err, prefix: /namespaces (pl-\d+-[0-9a-f]+-)\*/.exec(out)?.[1] });
    });
  });
}

/** The text with line wraps undone. */
const flat = (s: string): string => s.replace(/\s+/g, ' ');

function expectStory(r: Run): void {
  expect(r.code, r.err + r.out).toBe(0);
  const text = flat(r.out);
  expect(text).toMatch(/alice registers with the rendezvous over UDP/);
  expect(text).toMatch(/udp 10\.1\.0\.\d+ -> public 203\.0\.113\.\d+:\d+/);
  expect(text).toMatch(/udp 10\.2\.0\.\d+ -> public 203\.0\.113\.\d+:\d+/);
  expect(text).toMatch(/tcp public 203\.0\.113\.\d+:\d+/);
  expect(text).toMatch(/gets the introduction to/);
  expect(text).toMatch(/sends probe #0/);
  expect(text).toMatch(/alice gets bob's receipt: the message arrived/);
  expect(text).toMatch(/round trip \d+(\.\d)? ms \(session rtt, smoothed\)/);
  expect(text).toMatch(/Summary \(real time, Linux NAT in network namespaces\)/);
  expect(r.prefix).toBeDefined();
  expect(listNamespaces().filter((n) => n.startsWith(r.prefix!))).toEqual([]);
}

describeLab('punchline demo --real', () => {
  it('cone,cone: the story through Linux NAT ends on a direct path, and leaves no namespace', async () => {
    const r = await demoReal();
    expectStory(r);
    const text = flat(r.out);
    expect(text).toMatch(/path direct, peer to peer: alice sends straight to bob at 203\.0\.113\.\d+:\d+/);
    expect(text).toMatch(/picks the direct path/);
    expect(text).toMatch(/time to direct/);
    expect(text).toMatch(/a direct path predicted, and it opened/);
  }, 60_000);

  it('cone,symmetric: the relay opens the session, then the kernel NATs let a port search through and it moves direct', async () => {
    const r = await demoReal('--nat', 'cone,symmetric');
    expectStory(r);
    const text = flat(r.out);
    expect(text).toMatch(/The relay takes over/);
    expect(text).toMatch(/alice searches: it sprays small probes at random ports of bob's public address/);
    expect(text).toMatch(/bob opens 256 extra sockets/);
    expect(text).toMatch(/hit: 203\.0\.113\.\d+:\d+, after \d+ PORT_PROBEs in \d+(\.\d)? ms/);
    expect(text).toMatch(/session moves off the relay onto it, without losing a message/);
    expect(text).toMatch(/path direct, peer to peer/);
    expect(text).toMatch(/a direct path predicted, and it opened/);
    expect(text).toMatch(/The relay carried the session at first/);
  }, 60_000);
});
