import path from 'node:path';
import { SystemClock } from '../../common/clock.js';
import { PunchlineError } from '../../common/errors.js';
import { fingerprint, idText, loadOrCreateIdentity } from '../../common/identity/identity.js';
import { createLogger } from '../../common/log.js';
import type { Logger } from '../../common/log.js';
import { logFile } from '../../common/log-file.js';
import { nodeNetwork } from '../../common/net/udp-node.js';
import { wsStreamNetwork } from '../../common/net/ws-node.js';
import { PeerChatService } from '../chat/service.js';
import type { ChatService } from '../chat/types.js';
import { KNOWN_SERVERS_FILE, KnownServers } from '../known-servers.js';
import { PeerNode } from '../peer-node.js';
import { runTui } from '../tui/index.js';
import { chatOptionsFromFlags } from './chat-options.js';
import type { ChatOptions } from './chat-options.js';
import { runJsonLines } from './json-lines.js';

export { CHAT_HELP } from './chat-options.js';

/** `punchline chat`: the node, the chat service over it, and the terminal client or JSON lines. */
export async function runChat(argv: string[]): Promise<number> {
  const o = await chatOptionsFromFlags(argv);
  if (!o) return 0;
  // In the terminal client, logs would tear the screen: they go to a file in the data directory,
  // one asynchronous append per turn of the event loop (common/log-file.ts).
  const log = o.tui ? logFile(path.join(o.dataDir, 'punchline.log')) : undefined;
  const logger = log
    ? createLogger(o.logLevel ?? 'info', { svc: 'peer', name: o.name }, (line) => log.write(line))
    : createLogger(o.logLevel ?? 'warn', { svc: 'peer', name: o.name });
  const node = await createNode(o, logger);
  // Before the node starts: a damaged peers.json stops the client before it meets anyone.
  const chat = new PeerChatService(node, {
    dataDir: o.dataDir,
    quota: o.quota,
    storeRetryMs: o.storeRetryMs,
    maxFileBytes: o.maxFileBytes,
    ...(o.downloadDir !== undefined ? { downloadDir: o.downloadDir } : {}),
  });
  try {
    await node.start();
  } catch (e) {
    await chat.close();
    throw new PunchlineError('IO', `cannot bind UDP port ${o.port}: ${(e as Error).message}`);
  }
  try {
    await runUi(chat, o);
  } finally {
    await chat.close();
    await node.close();
    await log?.flush();
  }
  return 0;
}

/**
 * The node with this user's identity, its server key pinned by --server ...#FP, else by
 * servers.json, else on first use (then written to servers.json).
 */
async function createNode(o: ChatOptions, logger: Logger): Promise<PeerNode> {
  const { identity, created } = await loadOrCreateIdentity(o.dataDir);
  const known = new KnownServers(path.join(o.dataDir, KNOWN_SERVERS_FILE));
  // Each server's key: from --server ...#FP, else servers.json under its name, else pinned on first use.
  const servers = o.servers.map((s) => {
    const fp = s.fingerprint ?? known.get(s.name);
    return { ...s, ...(fp !== undefined ? { fingerprint: fp } : {}) };
  });
  logger.info(created ? 'created identity' : 'loaded identity', {
    id: idText(identity.id),
    fingerprint: fingerprint(identity.id),
    dataDir: o.dataDir,
  });
  const { ca } = o;
  const node = new PeerNode(
    {
      server: servers[0]!.server,
      servers,
      name: o.name,
      room: o.room,
      port: o.port,
      ...(o.bind !== undefined ? { bind: o.bind } : {}),
      keepaliveMs: o.keepaliveMs,
      punch: { deadlineMs: o.deadlineMs },
      mode: o.mode,
    },
    {
      network: nodeNetwork,
      // An extra CA (a self-signed relay) applies to every relay connection.
      streams:
        ca !== undefined
          ? {
              ...wsStreamNetwork,
              connectStream: (url, co) => wsStreamNetwork.connectStream(url, { ...co, ca }),
            }
          : wsStreamNetwork,
      clock: new SystemClock(),
      identity,
      logger,
    },
  );
  node.on('server-key', ({ fingerprint: fp, server = servers[0]!.name }) => {
    logger.info('pinned the server key on first use', { server, fingerprint: fp });
    try {
      known.pin(server, fp);
    } catch (e) {
      logger.warn('cannot write servers.json: the server key will be pinned again next time', {
        error: (e as Error).message,
      });
    }
  });
  return node;
}

/** The terminal client, or JSON lines until stdin ends, `quit`, SIGINT or SIGTERM. */
async function runUi(chat: ChatService, o: ChatOptions): Promise<void> {
  if (o.tui) {
    await runTui(chat, { monochrome: o.monochrome });
    return;
  }
  const stop = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await Promise.race([runJsonLines(chat, process.stdin, process.stdout), stop]);
}
