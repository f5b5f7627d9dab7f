/**
 * Fault injection shared by the simulators: what a test or `plantbridge sim --fault` can do to a
 * simulated unit. Each simulator accepts these plus faults of its own protocol.
 */

/** Faults every simulated unit understands. */
export type ConnectionFault =
  /** Destroy every open connection now (one-shot: nothing stays set). */
  | { kind: "drop-connections" }
  /** Accept and read requests but never reply, until cleared. */
  | { kind: "stop-answering" }
  /** Stop listening: new connections are refused until cleared; open ones stay. */
  | { kind: "refuse-connections" };

/** How a simulator is told to misbehave. `F` is its fault union, discriminated by `kind`. */
export interface FaultControl<F extends { kind: string }> {
  /** Applies a fault; a lasting fault of the same kind replaces the earlier one. */
  setFault(fault: F): void;
  /** Clears the lasting fault of one kind (no-op if it is not set). */
  clearFault(kind: F["kind"]): void;
  /** Clears every lasting fault: the unit behaves normally again. */
  clearFaults(): void;
  /** The lasting faults now in force. */
  activeFaults(): readonly F[];
}
