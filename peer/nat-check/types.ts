/**
 * What nat-check deals in: the observations probe.ts makes and the report classify.ts draws
 * from them (printed by format.ts; `--json` prints the report as it is).
 */
import type { Endpoint } from '../../common/net/types.js';

// Observations (what probe.ts saw)

/** One answered Binding request. */
interface BindingAnswer {
  /** XOR-MAPPED-ADDRESS: this socket as the server saw it. */
  readonly mapped: Endpoint;
  /** Where the answer came from (the datagram's source). */
  readonly from: Endpoint;
  readonly rttMs: number;
  readonly tries: number;
  /** RFC 5780 OTHER-ADDRESS, if the server sent one. */
  readonly otherAddress?: Endpoint;
}

/** A Binding request that was not answered (or answered with an error). */
interface BindingFailure {
  readonly tries: number;
  readonly waitedMs: number;
  /** An error response (e.g. "420 Unknown Attribute"); undefined when nothing came back. */
  readonly error?: string;
}

export type BindingOutcome = ({ ok: true } & BindingAnswer) | ({ ok: false } & BindingFailure);

/** The filtering test: a Binding request to the main port with CHANGE-REQUEST "change port". */
export type FilteringObservation =
  /** Answered from another port than the one asked: the NAT let in a port we never sent to. */
  | { readonly kind: 'other-port'; readonly from: Endpoint; readonly tries: number }
  /** Answered from the port asked: the server ignored CHANGE-REQUEST. */
  | { readonly kind: 'same-port'; readonly from: Endpoint }
  /** An error response: the server cannot do the test (no alternate port: 420). */
  | { readonly kind: 'refused'; readonly error: string }
  | { readonly kind: 'no-answer'; readonly tries: number; readonly waitedMs: number }
  | { readonly kind: 'not-run' };

export interface RelayObservation {
  readonly url: string;
  readonly reachable: boolean;
  readonly ms?: number;
  readonly error?: string;
}

export interface NatCheckObservations {
  readonly server: Endpoint;
  /** This socket's local endpoint (0.0.0.0 when bound to every interface). */
  readonly local: Endpoint;
  /** The host's interface addresses. */
  readonly localAddresses: readonly string[];
  /** Test I: a plain Binding request to the server's main port. */
  readonly primary: BindingOutcome;
  /** The alternate endpoint tested, and how it was learnt; undefined when there is none. */
  readonly alt?: {
    readonly endpoint: Endpoint;
    readonly source: 'other-address' | 'flag' | 'answer' | 'port+1';
  };
  readonly filtering: FilteringObservation;
  /** Test II: a plain Binding request to the alternate port (after the filtering test). */
  readonly secondary: BindingOutcome | 'not-run';
  /** undefined: the relay was not checked. */
  readonly relay?: RelayObservation;
}

// The report

export type MappingFinding = 'endpoint-independent' | 'dependent' | 'unknown';
export type FilteringFinding =
  'endpoint-independent-or-address-dependent' | 'address-and-port-dependent' | 'unknown';

export interface Finding {
  readonly topic: 'server' | 'udp' | 'public' | 'mapping' | 'filtering' | 'nat type' | 'relay';
  /** The conclusion, e.g. "endpoint-independent". */
  readonly result: string;
  /** What it rests on, e.g. "203.0.113.20:40000 seen by both 7000 and 7001". */
  readonly evidence: string;
}

type PathVerdict = 'direct' | 'relay' | 'none';

export interface Prediction {
  /** e.g. "port-restricted cone". */
  readonly remote: string;
  /** e.g. "EIM/APDF". */
  readonly remoteLabel: string;
  /** direct: hole punching works; relay: chat goes through the server's relay; none: no path. */
  readonly path: PathVerdict;
  /** False when the answer depends on something the check could not measure (`why` says what). */
  readonly certain: boolean;
  readonly why?: string;
}

export interface NatCheckReport {
  readonly server: string;
  readonly altPort: number | null;
  readonly local: string;
  readonly udp: 'ok' | 'blocked';
  /**
   * 'no': nothing answered on either transport (no UDP answer and the relay refused or timed
   * out): the server is not there, or not at this address; the check exits 1 and predicts
   * nothing. 'unknown': no UDP answer and the relay was not checked.
   */
  readonly serverReachable: 'yes' | 'no' | 'unknown';
  /** This socket as the server saw it. */
  readonly public: string | null;
  /** 'none': the public endpoint is this host's own; 'yes': something translates; 'unknown': no answer. */
  readonly nat: 'none' | 'yes' | 'unknown';
  readonly mapping: MappingFinding;
  readonly filtering: FilteringFinding;
  /** e.g. { name: 'port-restricted cone', label: 'EIM/APDF' }. */
  readonly natType: { readonly name: string; readonly label: string };
  readonly relay: RelayObservation | null;
  readonly findings: readonly Finding[];
  readonly predictions: readonly Prediction[];
  readonly notes: readonly string[];
}
