/**
 * The two clocks of plantbridge. Every delay, age, deadline and schedule runs on the monotonic
 * clock, which never steps; the wall clock only stamps samples and log lines. A wall-clock step
 * (an NTP correction, a hand-set clock) therefore never moves a schedule, never ages a value and
 * never fires a timeout. Both are injected, so tests step the wall clock under a running plant.
 */
export interface Clock {
  /** Milliseconds on a clock that only moves forward at a steady rate (origin arbitrary). */
  monotonic(): number;
  /** Epoch milliseconds of the wall clock (may step back or forward at any moment). */
  wall(): number;
}

/** The process's clocks: `performance.now()` (CLOCK_MONOTONIC) and `Date.now()`. */
export const systemClock: Clock = {
  monotonic: () => performance.now(),
  wall: () => Date.now(),
};

/** The wall-clock time (epoch ms) of an instant known on the monotonic clock, as seen now. */
export function wallTimeOf(clock: Clock, monotonicMs: number): number {
  return clock.wall() - (clock.monotonic() - monotonicMs);
}

/** A clock whose wall clock can be stepped by hand (soak runs: NTP corrections, a hand-set clock). */
export interface SteppableClock extends Clock {
  /** Steps the wall clock by `ms` (negative: back); the monotonic clock does not move. */
  step(ms: number): void;
  /** The sum of the steps so far. */
  readonly offsetMs: number;
}

export function steppableClock(base: Clock = systemClock): SteppableClock {
  let offset = 0;
  return {
    monotonic: () => base.monotonic(),
    wall: () => base.wall() + offset,
    step(ms) {
      offset += ms;
    },
    get offsetMs() {
      return offset;
    },
  };
}
