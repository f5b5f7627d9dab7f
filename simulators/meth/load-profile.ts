/**
 * METH's H2 demand over time: linear ramps between points, repeating, with an optional
 * sinusoidal ripple on top. Pure functions, so the dynamics can be tested without a server.
 */

export interface LoadProfilePoint {
  /** Time since the start of the cycle, ms. */
  atMs: number;
  /** H2 demand at that time, Nl/min. */
  demand: number;
}

export interface LoadProfile {
  /** Points in increasing `atMs`, the first at 0. The cycle wraps from the last point back to the first. */
  points: readonly LoadProfilePoint[];
  /** Length of one cycle, ms; at least the last point's `atMs`. */
  cycleMs: number;
  /** Added on top of the ramps: amplitude in Nl/min and period in ms. */
  ripple?: { amplitude: number; periodMs: number };
}

/**
 * A 10-minute day of the pilot plant, compressed. It starts mid-range (so a short run already sees
 * the demand move), climbs to a plateau above the curve's top (18.4 Nl/min), falls to a stretch
 * below the curve's low end (2.7 Nl/min) and climbs back to the start.
 */
export const defaultLoadProfile: LoadProfile = {
  cycleMs: 600_000,
  points: [
    { atMs: 0, demand: 8.0 },
    { atMs: 60_000, demand: 14.0 },
    { atMs: 120_000, demand: 17.5 },
    { atMs: 150_000, demand: 19.2 },
    { atMs: 210_000, demand: 19.2 },
    { atMs: 240_000, demand: 15.0 },
    { atMs: 300_000, demand: 9.0 },
    { atMs: 360_000, demand: 4.0 },
    { atMs: 400_000, demand: 2.0 },
    { atMs: 420_000, demand: 1.0 },
    { atMs: 480_000, demand: 1.0 },
    { atMs: 510_000, demand: 1.5 },
  ],
  ripple: { amplitude: 0.3, periodMs: 47_000 },
};

/** The same shape played `cycleMs` long (e.g. 60 s for a short demo run). */
export function scaleLoadProfile(profile: LoadProfile, cycleMs: number): LoadProfile {
  const f = cycleMs / profile.cycleMs;
  return {
    cycleMs,
    points: profile.points.map((p) => ({ atMs: p.atMs * f, demand: p.demand })),
    ...(profile.ripple ? { ripple: { ...profile.ripple, periodMs: profile.ripple.periodMs * f } } : {}),
  };
}

/** Demand (Nl/min, never negative) at `elapsedMs` since the simulator started. */
export function demandAt(profile: LoadProfile, elapsedMs: number): number {
  const { points, cycleMs } = profile;
  const first = points[0];
  if (first === undefined) return 0;
  const t = cycleMs > 0 ? ((elapsedMs % cycleMs) + cycleMs) % cycleMs : 0;
  let base = first.demand;
  for (let i = 0; i < points.length; i++) {
    const a = points[i]!;
    const b = points[i + 1] ?? { atMs: cycleMs, demand: first.demand };
    if (t >= a.atMs && t < b.atMs) {
      const span = b.atMs - a.atMs;
      base = span > 0 ? a.demand + ((b.demand - a.demand) * (t - a.atMs)) / span : a.demand;
      break;
    }
  }
  const ripple = profile.ripple
    ? profile.ripple.amplitude * Math.sin((2 * Math.PI * elapsedMs) / profile.ripple.periodMs)
    : 0;
  return Math.max(0, base + ripple);
}
