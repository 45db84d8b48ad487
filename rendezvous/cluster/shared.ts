import type { PortBehaviour } from '../../common/nat-behaviour.js';
import type { Endpoint } from '../../common/net/types.js';

/**
 * What one node tells the others about a member it holds (docs/architecture.md, Cluster): plain
 * data, JSON in Redis and on the cluster channel. Keys are hex; `node` holds its bindings.
 */
export interface SharedMember {
  readonly id: string;
  readonly node: string;
  readonly room: string;
  readonly name: string;
  readonly signKey: string;
  readonly dhKey: string;
  readonly lan: readonly Endpoint[];
  /** Its UDP registration: what introductions carry (the observed endpoint, the port behaviour). */
  readonly udp?: { observed: Endpoint; regTxid: string; regTime: number; nat?: PortBehaviour };
  /** Its stream registration: it can be relayed to. */
  readonly ws?: { regTxid: string; regTime: number };
}

/** An introduction the CONNECT's node asks the target's node to make (its half). */
export interface IntroRequest {
  /** The requester (mirrored on the target's node) and the target (held there). */
  readonly from: string;
  readonly target: string;
  readonly introId: string;
}

/** On the cluster channel (pl:cluster) and a node's own channel (pl:node:<id>), as JSON. */
export type ClusterMessage =
  | { t: 'up'; node: string; member: SharedMember }
  | { t: 'down'; node: string; id: string }
  | { t: 'beat'; node: string }
  | { t: 'intro'; node: string; intro: IntroRequest };

/** A relay frame forwarded on a node's channel: this byte, the target's id (16 bytes), the RELAYED frame. */
export const RELAY_TAG = 0;
export const ID_BYTES = 16;

const HEX = /^[0-9a-f]*$/;
const isHex = (v: unknown, bytes?: number): v is string =>
  typeof v === 'string' &&
  HEX.test(v) &&
  v.length % 2 === 0 &&
  (bytes === undefined || v.length === bytes * 2);
const isStr = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function isEndpoint(v: unknown): v is Endpoint {
  return (
    isObj(v) &&
    isStr(v.address, 64) &&
    isNum(v.port) &&
    Number.isInteger(v.port) &&
    v.port >= 0 &&
    v.port <= 65535
  );
}

function isPortBehaviour(v: unknown): v is PortBehaviour {
  if (!isObj(v)) return false;
  switch (v.kind) {
    case 'unknown':
    case 'random':
      return true;
    case 'consistent':
      return typeof v.preserved === 'boolean';
    case 'sequential':
      return isNum(v.step) && isNum(v.last);
    default:
      return false;
  }
}

function isRegistration(v: unknown): v is { regTxid: string; regTime: number } {
  return isObj(v) && isHex(v.regTxid) && isNum(v.regTime);
}

/**
 * Whether `v` is a well-formed SharedMember. Redis is shared with the other nodes, not with
 * strangers, but a record written by another version (or by hand) must not crash a node
 * (docs/contributing.md §2): anything else is dropped and counted.
 */
export function isSharedMember(v: unknown): v is SharedMember {
  if (!isObj(v)) return false;
  if (!isHex(v.id, ID_BYTES) || !isStr(v.node, 64) || !isStr(v.room, 256) || !isStr(v.name, 256))
    return false;
  if (!isHex(v.signKey, 32) || !isHex(v.dhKey, 32)) return false;
  if (!Array.isArray(v.lan) || v.lan.length > 16 || !v.lan.every(isEndpoint)) return false;
  if (v.udp !== undefined) {
    if (!isRegistration(v.udp) || !isEndpoint((v.udp as { observed?: unknown }).observed)) return false;
    const nat = (v.udp as { nat?: unknown }).nat;
    if (nat !== undefined && !isPortBehaviour(nat)) return false;
  }
  if (v.ws !== undefined && !isRegistration(v.ws)) return false;
  return v.udp !== undefined || v.ws !== undefined;
}

/** Decode a cluster channel message; undefined when it is not one (counted by the caller). */
export function decodeClusterMessage(text: string): ClusterMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObj(v) || !isStr(v.node, 64)) return undefined;
  switch (v.t) {
    case 'up':
      return isSharedMember(v.member) && v.member.node === v.node ? (v as ClusterMessage) : undefined;
    case 'down':
      return isHex(v.id, ID_BYTES) ? (v as ClusterMessage) : undefined;
    case 'beat':
      return v as ClusterMessage;
    case 'intro': {
      const i = v.intro;
      return isObj(i) && isHex(i.from, ID_BYTES) && isHex(i.target, ID_BYTES) && isHex(i.introId, 8)
        ? (v as ClusterMessage)
        : undefined;
    }
    default:
      return undefined;
  }
}

/** Redis keys (docs/architecture.md, Cluster). Room and name parts are hex: any text is a safe key. */
export const keys = {
  cluster: 'pl:cluster',
  nodeChannel: (node: string): string => `pl:node:${node}`,
  alive: (node: string): string => `pl:alive:${node}`,
  member: (id: string): string => `pl:member:${id}`,
  memberPattern: 'pl:member:*',
  name: (room: string, skeleton: string): string =>
    `pl:name:${Buffer.from(room).toString('hex')}:${Buffer.from(skeleton).toString('hex')}`,
};

/** What a node counts (docs/contributing.md §8); /metrics renders them (rendezvous/metrics.ts). */
export interface ClusterStats {
  messagesIn: number;
  messagesOut: number;
  /** Relay frames sent to another node, and received from one. */
  framesForwarded: number;
  framesFromNodes: number;
  /** Redis commands that failed (Redis down, a timeout), and messages that did not decode. */
  redisErrors: number;
  malformed: number;
  /** Names held in Redis by another member when this node claimed them again after an outage. */
  nameConflicts: number;
}

export const emptyClusterStats = (): ClusterStats => ({
  messagesIn: 0,
  messagesOut: 0,
  framesForwarded: 0,
  framesFromNodes: 0,
  redisErrors: 0,
  malformed: 0,
  nameConflicts: 0,
});
