/**
 * The real-NAT lab: NAT topologies built from network namespaces, and processes driven in them.
 * Used by the lab tests (test/lab, whose describeLab lives there as it needs vitest) and by
 * `punchline demo --real`. See docs/lab.md.
 */
export {
  isRoot,
  labUnavailableReason,
  listNamespaces,
  sweepStaleNamespaces,
  addNamespace,
  deleteNamespaceSync,
  LAB_NS_PREFIX,
} from './netns.js';
export { natRules, toCommands, type NatKind, type NatOptions, type IptablesRule } from './nat.js';
export { LineReader, DEFAULT_WAIT_MS, parseJsonObject, type JsonObject, type JsonMatcher } from './lines.js';
export { LabProcess, type SpawnOptions, type ExitInfo } from './process.js';
export {
  Lab,
  Host,
  Router,
  Segment,
  INTERNET_SUBNET,
  parseConntrack,
  type LabNode,
  type LabOptions,
  type RouterOptions,
  type ConntrackEntry,
  type ConntrackTuple,
} from './topology.js';
export { endpoint, type Endpoint } from './endpoint.js';
