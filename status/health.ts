/**
 * `GET /health` and `GET /health/live`, decided from the plant view (the machines' own states):
 * healthy = every unit connected, every historian sink connected and its spool draining.
 */

import type { PlantView } from "./plant-view.ts";
import type { PlantSnapshotLike } from "./source.ts";

export interface HealthReport {
  ok: boolean;
  plant: string;
  state: string;
  /** Why the plant is not healthy, one line each; empty when ok. */
  problems: string[];
  units: Record<
    string,
    {
      state: string;
      stateValue: unknown;
      connected: boolean;
      reason: string | null;
      lastGoodSampleAgeSeconds: number | null;
    }
  >;
  historian: Record<
    string,
    { state: string; connected: boolean; reason: string | null; lagSeconds: number; draining: boolean }
  >;
  spool: { depth: number; held: number; dropped: number; deadLettered: number; bytes: number };
}

export function healthReport(view: PlantView): HealthReport {
  const problems: string[] = [];
  const units: HealthReport["units"] = {};
  for (const u of view.units) {
    units[u.name] = {
      state: u.state,
      stateValue: u.stateValue,
      connected: u.connected,
      reason: u.reason,
      lastGoodSampleAgeSeconds: u.lastGoodSampleAgeSeconds,
    };
    if (!u.connected) problems.push(`unit ${u.name} ${u.state}${u.reason ? `: ${u.reason}` : ""}`);
  }
  const historian: HealthReport["historian"] = {};
  for (const s of view.sinks) {
    historian[s.name] = {
      state: s.state,
      connected: s.connected,
      reason: s.reason,
      lagSeconds: s.lagSeconds,
      draining: s.draining,
    };
    if (!s.connected) problems.push(`historian ${s.name} ${s.state}${s.reason ? `: ${s.reason}` : ""}`);
    else if (!s.draining)
      problems.push(`spool not draining into ${s.name}: oldest sample waits ${Math.round(s.lagSeconds)} s`);
  }
  if (view.state !== "running") problems.push(`plant ${view.state}`);
  const depth = Object.values(view.spool.pending).reduce((n, p) => n + p, 0);
  return {
    ok: problems.length === 0,
    plant: view.plant,
    state: view.state,
    problems,
    units,
    historian,
    spool: {
      depth,
      held: view.spool.held,
      dropped: view.spool.dropped,
      deadLettered: view.spool.deadLettered,
      bytes: view.spool.bytes,
    },
  };
}

/** The process and its actors run: the plant actor and every child machine are active. */
export function liveness(snapshot: PlantSnapshotLike): { live: boolean; actors: Record<string, string> } {
  const c = snapshot.context;
  const actors: Record<string, string> = { plant: snapshot.status };
  const children = [
    ...Object.values(c.units),
    ...Object.values(c.loops),
    c.storage,
    ...Object.values(c.forwarders),
  ];
  for (const child of children) actors[child.id] = child.getSnapshot().status;
  return { live: Object.values(actors).every((status) => status === "active"), actors };
}
