/**
 * Units behind one gateway: the rate of a unit that answers while another unit id on the same
 * shared connection never does, against the same unit alone on a shared connection of its own.
 *
 * The Modbus scale simulator's gateway serves unit id 1 (good) and unit id 2 (silent: it reads its
 * requests and never answers). Two shared connections to it: A carries the good unit alone; B carries
 * the good unit and the silent one, which a reader asks every 100 ms for the whole stage (ten times
 * the storage rate of `sim --scale`, a hundred times the reference plant's). Both units use the
 * plant's demotion defaults (3 timeouts in a row, 10 s doubling to 5 min) and a 250 ms timeout.
 *
 * The good unit's reads (125 registers each) alternate read by read between A and B, so that the
 * load of a shared machine falls on both alike; the rate ratio is the time of all A reads over the
 * time of all B reads. First the transient: from the moment unit id 2 goes silent until it is demoted
 * (three timeouts of wire time). Then the measured span, which starts at the demotion and is long
 * enough to hold its first probe (10 s later): a probe holds B's wire for one timeout, and the B read
 * behind it waits that long — all of it is in the ratio.
 */
import type { ModbusGateway } from "../adapters/modbus/modbus-gateway.ts";
import { createModbusLinks } from "../adapters/modbus/modbus-links.ts";
import type { UnitLink } from "../adapters/types.ts";
import { silentLog } from "../lib/log.ts";
import { loadPlantText } from "../schemas/load-plant.ts";
import type { ModbusUnitConfig } from "../schemas/plant-types.ts";
import { startModbusScaleSimulator } from "../simulators/scale/index.ts";
import { scalePlantYaml, scaleTagName } from "../simulators/scale/scale-plant.ts";
import { percentile, type SectionResult, type Variant } from "./stats.ts";
import type { Workspace } from "./workspace.ts";

export interface GatewayBenchOptions {
  /** Length of the measured span after the demotion (ms). */
  spanMs: number;
  /** The span is cut into this many chunks, each giving a ratio of its own (the spread). */
  chunks: number;
  say: (line: string) => void;
}

const registers = 125;
const timeoutMs = 250;
/** How often the silent unit is asked. */
const silentPollMs = 100;
/** Refused reads timed on their own, for their CPU cost. */
const refusedReads = 2000;
const tags = Array.from({ length: registers }, (_, r) => scaleTagName(r));

/** One read's time (ms) and its bad readings. */
async function timedRead(link: UnitLink): Promise<{ ms: number; bad: number }> {
  const start = performance.now();
  const readings = await link.read(tags);
  const ms = performance.now() - start;
  let bad = 0;
  for (const r of readings.values()) if (r.quality !== "good") bad++;
  return { ms, bad };
}

interface Pairs {
  alone: number[];
  beside: number[];
  bad: number;
}

/** Reads alternately on A and B until `until()` says stop (at least one pair). */
async function alternate(alone: UnitLink, beside: UnitLink, until: () => boolean): Promise<Pairs> {
  const pairs: Pairs = { alone: [], beside: [], bad: 0 };
  do {
    const a = await timedRead(alone);
    const b = await timedRead(beside);
    pairs.alone.push(a.ms);
    pairs.beside.push(b.ms);
    pairs.bad += a.bad + b.bad;
  } while (!until());
  return pairs;
}

const sum = (values: readonly number[]) => values.reduce((n, v) => n + v, 0);

function figuresOf(latencies: readonly number[], bad: number): Record<string, number> {
  return {
    "reads/s": (1000 * latencies.length) / sum(latencies),
    "p50 µs": 1000 * percentile(latencies, 50),
    "p99 µs": 1000 * percentile(latencies, 99),
    "max ms": Math.max(...latencies),
    reads: latencies.length,
    bad,
  };
}

export async function benchGatewayDemotion(
  workspace: Workspace,
  options: GatewayBenchOptions,
): Promise<SectionResult> {
  const { say } = options;
  const sim = await startModbusScaleSimulator({ units: 2, registers, shape: "gateway" });
  const links: UnitLink[] = [];
  let stopSilentReader = false;
  let silentReader: Promise<void> = Promise.resolve();
  try {
    const plant = loadPlantText(
      scalePlantYaml({
        plant: "gateway-bench",
        units: sim.units,
        tags: registers,
        connection: "shared",
        periodMs: 1000,
        timeoutMs,
      }),
      "gateway-bench.yaml",
      { varDir: workspace.dir, env: {} },
    );
    const [good, silent] = plant.units as [ModbusUnitConfig, ModbusUnitConfig];
    const aloneLinks = createModbusLinks({ log: silentLog() });
    const sharedLinks = createModbusLinks({ log: silentLog() });
    const alone = aloneLinks.link(good);
    const beside = sharedLinks.link(good);
    const silentLink = sharedLinks.link(silent);
    links.push(alone, beside, silentLink);
    await Promise.all(links.map((l) => l.connect()));
    const gateway = sharedLinks.gateways.values().next().value as ModbusGateway;
    const silentMember = gateway.members.find((m) => m.name === silent.name);
    if (silentMember === undefined) throw new Error("the silent unit has no seat on the gateway");

    say("gateway: warm-up (1 s of alternating reads)");
    const warmUpEnd = performance.now() + 1000;
    await alternate(alone, beside, () => performance.now() > warmUpEnd);

    sim.setSilent(silent.unitId, true);
    silentReader = (async () => {
      while (!stopSilentReader) {
        await silentLink.read(tags);
        await new Promise((resolve) => setTimeout(resolve, silentPollMs));
      }
    })();
    say(
      `gateway: unit id ${silent.unitId} silent; reading until it is demoted (3 timeouts of ${timeoutMs} ms)`,
    );
    const transientStart = performance.now();
    const transient = await alternate(alone, beside, () => silentMember.state.demotions > 0);
    const demotedAfterMs = performance.now() - transientStart;

    say(
      `gateway: ${options.spanMs} ms of alternating reads after the demotion (its first probe comes 10 s after it)`,
    );
    const requestsBefore = silentMember.figures.requests;
    const chunks: Pairs[] = [];
    const chunkMs = options.spanMs / options.chunks;
    for (let i = 0; i < options.chunks; i++) {
      const end = performance.now() + chunkMs;
      chunks.push(await alternate(alone, beside, () => performance.now() > end));
    }
    const probes = silentMember.figures.requests - requestsBefore;

    // What a refused read costs: the silent unit is demoted now.
    stopSilentReader = true;
    await silentReader;
    let refused = 0;
    const cpuBefore = process.cpuUsage();
    for (let i = 0; i < refusedReads; i++) {
      const readings = await silentLink.read(tags);
      if (readings.get(tags[0] as string)?.reason?.startsWith("demoted") === true) refused++;
    }
    const refusedCpu = process.cpuUsage(cpuBefore);
    const cpuPerRefusedRead = (refusedCpu.user + refusedCpu.system) / refusedReads;

    const aloneMs = chunks.flatMap((c) => c.alone);
    const besideMs = chunks.flatMap((c) => c.beside);
    const bad = sum(chunks.map((c) => c.bad));
    const ratio = sum(aloneMs) / sum(besideMs);
    const chunkRatios = chunks.map((c) => sum(c.alone) / sum(c.beside));
    const transientRatio = sum(transient.alone) / sum(transient.beside);
    const variants: Variant[] = [
      {
        label: "good unit beside a unit id that never answers (one shared connection)",
        role: "plantbridge",
        figures: figuresOf(besideMs, bad),
        repeats: chunks.map((c) => figuresOf(c.beside, c.bad)),
      },
      {
        label: "good unit alone on a shared connection",
        role: "baseline",
        figures: figuresOf(aloneMs, 0),
        repeats: chunks.map((c) => figuresOf(c.alone, 0)),
      },
    ];
    const flat = {
      "gateway.good_unit_rate_ratio": ratio,
      "gateway.good_unit_reads_per_s_alone": (1000 * aloneMs.length) / sum(aloneMs),
      "gateway.good_unit_reads_per_s_beside_silent": (1000 * besideMs.length) / sum(besideMs),
      "gateway.good_unit_p50_ratio": percentile(aloneMs, 50) / percentile(besideMs, 50),
      "gateway.chunk_ratio_min": Math.min(...chunkRatios),
      "gateway.chunk_ratio_max": Math.max(...chunkRatios),
      "gateway.probes_in_measured_span": probes,
      "gateway.demoted_after_ms": demotedAfterMs,
      "gateway.transient_rate_ratio": transientRatio,
      "gateway.silent_unit_timeout_ms": timeoutMs,
      "gateway.bad_readings_of_good_unit": bad + transient.bad,
      "gateway.cpu_us_per_refused_read": cpuPerRefusedRead,
    };
    return {
      id: "gateway",
      title: `6. Units behind one gateway: a good unit's reads (${registers} registers) beside a unit id that never answers`,
      columns: [
        { name: "reads/s", unit: "" },
        { name: "p50 µs", unit: "" },
        { name: "p99 µs", unit: "" },
        { name: "max ms", unit: "" },
        { name: "reads", unit: "" },
        { name: "bad", unit: "" },
      ],
      variants,
      ratios: [
        { label: "reads/s beside the silent unit / alone (goal ≥ 0.95)", value: ratio },
        {
          label: "p50 read time alone / beside (robust to the machine's load)",
          value: percentile(aloneMs, 50) / percentile(besideMs, 50),
        },
        { label: "while it was being demoted (transient, not in the goal)", value: transientRatio },
      ],
      goal: "issue 10: the good unit keeps ≥ 95 % of its rate while another unit id on the same gateway never answers.",
      notes: [
        `Reads alternate one by one between the two connections, back to back; reads/s = reads / their summed time, over ${options.spanMs} ms after the demotion (every probe in it counted: ${probes}, each holding the wire ${timeoutMs} ms). Ratio per ${Math.round(chunkMs)} ms chunk: ${Math.min(...chunkRatios).toFixed(3)}..${Math.max(...chunkRatios).toFixed(3)}.`,
        `Transient: unit id 2 went silent and was demoted after ${demotedAfterMs.toFixed(0)} ms (3 timeouts of ${timeoutMs} ms, asked every ${silentPollMs} ms); meanwhile the good unit read at ${transientRatio.toFixed(2)}× its rate alone.`,
        `A refused read of ${registers} tags costs ${cpuPerRefusedRead.toFixed(1)} µs of CPU (${refused} of ${refusedReads} timed on their own were refused as demoted); the simulator runs in the same process.`,
        "The machine is shared with other work: absolute rates move between runs; read the ratio and its spread over the chunks.",
      ],
      flat,
    };
  } finally {
    stopSilentReader = true;
    await silentReader.catch(() => undefined);
    await Promise.allSettled(links.map((l) => l.close()));
    await sim.stop();
  }
}
