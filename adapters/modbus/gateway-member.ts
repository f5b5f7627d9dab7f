/**
 * One unit on a shared Modbus TCP connection, as the gateway sees it: its unit id, timeout and
 * demotion policy, its demotion state (kept across reconnects of the connection: a unit that did not
 * answer before a reconnect is still suspect after it), the figures of what happened to its requests,
 * and the log lines of its demotions (one warn when a unit is first demoted, one when its period
 * reaches the cap, debug for the demotions in between, info when it answers again).
 */
import type { Clock } from "../../lib/clock.ts";
import type { Log } from "../../lib/log.ts";
import {
  answering,
  type DemotionPolicy,
  type DemotionState,
  forgiveTimeout,
  noteAnswer,
  noteTimeout,
} from "./demotion.ts";

export interface MemberFigures {
  /** Requests sent. */
  requests: number;
  /** Replies and exceptions received in time. */
  answered: number;
  /** Requests without an answer in time (timeouts, and gateway exceptions 10/11). */
  unanswered: number;
  /** Requests refused without sending while demoted. */
  refused: number;
  /** Times the unit was (re)demoted. */
  demotions: number;
  /** Replies that came after their request had timed out (dropped). */
  lateReplies: number;
}

export interface GatewayMember {
  /** The plant's unit name. */
  readonly name: string;
  readonly unitId: number;
  readonly timeoutMs: number;
  readonly demotion: DemotionPolicy;
  readonly state: DemotionState;
  readonly figures: MemberFigures;
  noteAnswer(): void;
  noteNoAnswer(now: number, reason: string): void;
  noteLateReply(functionCode: number): void;
  /** One of its timeouts was the connection's fault: it does not count towards demotion. */
  forgiveTimeout(): void;
}

export interface MemberOptions {
  name: string;
  unitId: number;
  timeoutMs: number;
  demotion: DemotionPolicy;
  /** `host:port` of the gateway, for log lines. */
  address: string;
  clock: Clock;
  log: Log;
}

export function createGatewayMember(options: MemberOptions): GatewayMember {
  const { clock, demotion } = options;
  const log = options.log.child({ unit: options.name, unitId: options.unitId });
  const figures: MemberFigures = {
    requests: 0,
    answered: 0,
    unanswered: 0,
    refused: 0,
    demotions: 0,
    lateReplies: 0,
  };
  let state: DemotionState = answering;
  /** Monotonic ms of the first demotion since the unit last answered. */
  let demotedSince: number | undefined;
  let warnedLate = false;

  function noteNoAnswer(now: number, reason: string): void {
    figures.unanswered++;
    const next = noteTimeout(state, now, demotion);
    state = next.state;
    if (!next.demoted) return;
    figures.demotions++;
    const fields = { periodMs: state.periodMs, timeoutsInARow: state.timeoutsInARow, reason };
    const what = `${options.name} (unit id ${options.unitId} on ${options.address})`;
    if (demotedSince === undefined) {
      demotedSince = now;
      log.warn(
        fields,
        `${what} demoted for ${state.periodMs} ms after ${state.timeoutsInARow} timeouts in a row (${reason}): its requests are refused until then, the other units go on`,
      );
    } else if (state.periodMs === demotion.maxPeriodMs && state.demotions === firstCappedDemotion(demotion)) {
      log.warn(
        fields,
        `${what} still not answering: demoted again, now for the longest period (${state.periodMs} ms)`,
      );
    } else {
      log.debug(fields, `${what} did not answer its probe: demoted again for ${state.periodMs} ms`);
    }
  }

  return {
    name: options.name,
    unitId: options.unitId,
    timeoutMs: options.timeoutMs,
    demotion,
    get state() {
      return state;
    },
    figures,
    noteAnswer() {
      figures.answered++;
      const next = noteAnswer(state);
      state = next.state;
      if (next.restored && demotedSince !== undefined) {
        const forMs = Math.round(clock.monotonic() - demotedSince);
        log.info({ demotedForMs: forMs }, `${options.name} answers again after ${forMs} ms of demotion`);
      }
      if (next.restored) demotedSince = undefined;
    },
    noteNoAnswer,
    noteLateReply(functionCode) {
      figures.lateReplies++;
      const message = `${options.name} (unit id ${options.unitId}) answered after its timeout of ${options.timeoutMs} ms (function ${functionCode & 0x7f}): the reply was dropped; a longer timeout may suit this unit`;
      if (warnedLate) log.debug(message);
      else log.warn(message);
      warnedLate = true;
    },
    forgiveTimeout() {
      state = forgiveTimeout(state);
    },
  };
}

/** The demotion (1-based) whose period first reaches the cap. */
function firstCappedDemotion(policy: DemotionPolicy): number {
  let n = 1;
  while (policy.periodMs * 2 ** (n - 1) < policy.maxPeriodMs && n < 64) n++;
  return n;
}
