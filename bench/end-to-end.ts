/**
 * End-to-end throughput: the real plant machine (storage → spool → forwarder → PostgreSQL sink,
 * the spool at synchronous NORMAL) with bench-only synthetic scale units behind the real UnitLink
 * interface (scale-link.ts), plugged in through startPlant's `createLink`. Everything but the
 * units is what `plantbridge run` starts.
 *
 * A ramp of rates (tags stored every `periodMs`), each held for a while on a fresh spool and
 * schema: a rate is sustained when storage overran no cycle and dropped nothing, and the spool's
 * backlog did not grow (least-squares slope of the pending samples over the hold). The best
 * sustained rate is then held for `finalHoldS` seconds, the plant stopped with a flush, and the
 * database checked: every sample taken is stored once (rows = samples taken, every cycle whole).
 */
import { type EndToEndOptions, runStep, type StepResult } from "./e2e-step.ts";
import type { SectionResult, Variant } from "./stats.ts";
import type { Workspace } from "./workspace.ts";

function stepVariant(step: StepResult, label: string): Variant {
  const figures: Record<string, number> = {
    "samples/s": step.rate,
    "backlog/s": step.growth,
    overruns: step.overruns,
    cores: step.cores,
    "cpu µs/sample": step.cpuUsPerSample,
    "server µs/sample": step.serverUsPerSample,
    "loop p99 ms": step.loopP99Ms,
    "loop max ms": step.loopMaxMs,
    "heap MB": step.heapMb,
    taken: step.taken,
    stored: step.stored,
  };
  return { label, role: "plantbridge", figures, repeats: [figures] };
}

export async function benchEndToEnd(workspace: Workspace, options: EndToEndOptions): Promise<SectionResult> {
  const steps: StepResult[] = [];
  for (const nominal of options.ramp) {
    const step = await runStep(workspace, nominal, options.holdS, options, `ramp ${nominal}/s`);
    steps.push(step);
    // Past the ceiling of throughput nothing higher can keep up; a lone overrun (a stall of the
    // machine) does not end the ramp.
    if (!step.keptUp) break;
  }
  const best = steps.filter((s) => s.sustained).at(-1);
  const keptUp = steps.filter((s) => s.keptUp).at(-1);
  const holdRate = best?.nominal ?? options.ramp[0] ?? 0;
  const held = await runStep(
    workspace,
    holdRate,
    options.finalHoldS,
    options,
    `hold ${holdRate}/s for ${options.finalHoldS} s`,
  );
  const lost = held.taken - held.stored - held.left;
  const heldOk = held.sustained && held.stored === held.taken && held.left === 0 && held.wholeCycles;
  const variants = [
    ...steps.map((s) =>
      stepVariant(
        s,
        `ramp: ${s.tags} tags every ${options.periodMs} ms${s.sustained ? "" : " — NOT sustained"}`,
      ),
    ),
    stepVariant(
      held,
      `held ${options.finalHoldS} s: ${held.tags} tags every ${options.periodMs} ms${heldOk ? "" : " — NOT held"}`,
    ),
  ];
  const check = (s: StepResult) =>
    s.stored === s.taken - s.left && s.wholeCycles
      ? []
      : [
          `CHECK FAILED: ${s.tags} tags: taken ${s.taken}, stored ${s.stored}, left in the spool ${s.left}, whole cycles ${s.wholeCycles}`,
        ];
  return {
    id: "end-to-end",
    title: "5. End to end: storage → spool → forwarder → PostgreSQL (synthetic scale units)",
    columns: [
      { name: "samples/s", unit: "" },
      { name: "backlog/s", unit: "" },
      { name: "overruns", unit: "" },
      { name: "cores", unit: "" },
      { name: "cpu µs/sample", unit: "" },
      { name: "server µs/sample", unit: "" },
      { name: "loop p99 ms", unit: "" },
      { name: "loop max ms", unit: "" },
      { name: "heap MB", unit: "" },
      { name: "taken", unit: "" },
      { name: "stored", unit: "" },
    ],
    variants,
    ratios: [],
    goal: "Issue 10: ≥ 100 000 samples/s sustained for 60 s on 2 cores, zero overruns, zero loss, a spool that does not grow, synchronous NORMAL.",
    notes: [
      `Units: ${options.units} synthetic scale units (bench/scale-link.ts, the real UnitLink interface, values computed in process) in the real plant ` +
        "machine; storage, spool (synchronous NORMAL, a fresh file per step), forwarder and PostgreSQL sink (narrow, a fresh schema per step) are the real ones.",
      `Each ramp step warms up ${options.warmUpS} s, then holds ${options.holdS} s; sustained = no storage overrun, no late unit, nothing dropped, ` +
        "and the spool's backlog does not grow: its least-squares slope (pending samples read every 0.5 s) stays under 1 % of the rate or two batches over the hold. " +
        "The ramp stops at the first rate whose backlog grows.",
      `The best sustained rate is held ${options.finalHoldS} s, then the plant stops with a flush and the database is counted: ` +
        `taken ${held.taken}, stored ${held.stored}, left in the spool ${held.left}, lost ${lost}; every cycle whole: ${held.wholeCycles}.`,
      "cores = the bench process's CPU time over the hold (the plant runs in it; PostgreSQL's own CPU is not included).",
      ...steps.flatMap(check),
      ...check(held),
    ],
    flat: {
      "e2e.max_samples_per_s": best?.rate ?? 0,
      "e2e.max_kept_up_samples_per_s": keptUp?.rate ?? 0,
      "e2e.max_nominal_samples_per_s": best?.nominal ?? 0,
      "e2e.held_60s_samples_per_s": heldOk ? held.rate : 0,
      "e2e.held_seconds": options.finalHoldS,
      "e2e.held_ok": heldOk ? 1 : 0,
      "e2e.held_backlog_growth_per_s": held.growth,
      "e2e.held_overruns": held.overruns,
      "e2e.held_lost": lost,
      "e2e.held_cores": held.cores,
      "e2e.held_cpu_us_per_sample": held.cpuUsPerSample,
      "e2e.held_server_cpu_us_per_sample": held.serverUsPerSample,
    },
  };
}
