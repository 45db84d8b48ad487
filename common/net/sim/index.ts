/** The simulated network (docs/architecture.md, testing tiers). See simulator.ts for a tour. */
export {
  Simulator,
  type HostOptions,
  type NatOptions,
  type Placement,
  type SimulatorOptions,
} from './simulator.js';
export { SimHost, DEFAULT_EPHEMERAL_PORTS } from './host.js';
export { SimNat, type NatMapping, type NatStats } from './nat.js';
export { SimSocket } from './socket.js';
export { DEFAULT_LINK, linkFate, type LinkConditions, type LinkDirection } from './link.js';
export {
  DEFAULT_NAT_POLICY,
  NAT_BEHAVIOURS,
  NAT_PRESETS,
  admitsInbound,
  allocatePort,
  filterKey,
  mappingKey,
  sharesMapping,
  type NatBehaviour,
  type NatPolicy,
  type PortAllocation,
} from './nat-rules.js';
export { MAX_UDP_PAYLOAD } from './packet.js';
export { Rng } from './random.js';
export { DROP_REASONS, totalDropped, type DropReason, type SimEvent, type SimStats } from './stats.js';
