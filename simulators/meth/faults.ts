/** What can go wrong with METH, on command (tests and `plantbridge sim --fault`). */

/** Bad statuses a variable can be forced into. */
export const methBadStatuses = [
  "BadSensorFailure",
  "BadDeviceFailure",
  "BadCommunicationError",
  "BadOutOfService",
  "BadNotConnected",
  "BadWaitingForInitialData",
] as const;

export type MethBadStatus = (typeof methBadStatuses)[number];

export type MethFault =
  /** Those variables serve the Bad status (default BadSensorFailure) instead of a value, until cleared. */
  | {
      kind: "bad-status";
      /** Browse names (`real_temperature`), string ids (`::AsGlobalPV:real_temperature`) or node ids. */
      nodes: readonly string[];
      status?: MethBadStatus;
    }
  /** Destroys every client socket, then closes the sessions left behind, once. New connections are accepted. */
  | { kind: "drop-connections" }
  /**
   * Closes every session on the server, once, as a session timeout would; the channels stay open,
   * so clients learn it from a BadSessionIdInvalid answer.
   */
  | { kind: "close-sessions" }
  /**
   * The server keeps its sockets open but stops reading them (existing and new connections): requests
   * go unanswered until cleared, as with a PLC whose communication task hangs.
   */
  | { kind: "stop-answering" }
  /** Values stop changing (the dynamics still run inside, the variables are not updated). */
  | { kind: "freeze" }
  /** CreateSubscription is answered BadTooManySubscriptions until cleared; existing subscriptions go on. */
  | { kind: "refuse-subscriptions" }
  /** Publish requests go unanswered (no data, no keep-alive) until cleared; Read and Write still work. */
  | { kind: "silent-subscriptions" };

export type MethFaultKind = MethFault["kind"];
