/** The real-NAT lab: NAT topologies built from network namespaces, and processes driven in them. See docs/lab.md. */
export { describeLab } from './describe-lab.js';
export {
  isRoot,
  labUnavailableReason,
  listNamespaces,
  sweepStaleNamespaces,
  LAB_NS_PREFIX,
} from './netns.js';
export { natRules, toCommands, type NatKind, type NatOptions, type IptablesRule } from './nat.js';
export { LineReader, DEFAULT_WAIT_MS, type JsonObject, type JsonMatcher } from './lines.js';
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
export { fixture, endpoint, type Endpoint } from './fixtures.js';
