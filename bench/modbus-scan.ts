/**
 * Modbus scan: reading the reference PEMEL's 30 storage tags (the 16 bits of the status word and
 * the 14 process values) from the PEMEL simulator through one link.
 *
 * plantbridge: one `read()` of all 30 tags — the request planner merges them into one request
 * (0x8061..0x8072, the 3-register gap bridged). Baseline: a second link whose unit sets
 * `maxGapRegisters: 0`, read tag by tag, as most flow tools poll: 30 requests per scan, all issued at
 * once into the link's queue (the baseline's best case: no idle time between its requests).
 * Requests per scan are counted on the simulator's side (its served reads).
 */
import { createModbusLink } from "../adapters/modbus/modbus-link.ts";
import type { Reading, UnitLink } from "../adapters/types.ts";
import { silentLog } from "../lib/log.ts";
import { startPemelSimulator } from "../simulators/pemel/index.ts";
import { loadSimPlant, pemelStorage } from "./sim-plant.ts";
import { ratioOf, type SectionResult, variantOf } from "./stats.ts";
import type { Workspace } from "./workspace.ts";

export interface ModbusScanOptions {
  repeats: number;
  /** Scans per variant and repeat. */
  scans: number;
  warmUpScans: number;
  say: (line: string) => void;
}

type Scan = () => Promise<Reading[]>;

function badCount(readings: readonly Reading[]): number {
  return readings.filter((r) => r.quality !== "good").length;
}

export async function benchModbusScan(
  workspace: Workspace,
  options: ModbusScanOptions,
): Promise<SectionResult> {
  const { say } = options;
  // No dynamics timer: the figure is the link's, not the simulator's tick.
  const pemel = await startPemelSimulator({ port: 0, tickMs: 0 });
  const links: UnitLink[] = [];
  try {
    const plant = await loadSimPlant(
      { pemelPort: pemel.port, methEndpoint: "opc.tcp://127.0.0.1:4840", methPassword: "unused" },
      { varDir: workspace.dir, historianUrl: workspace.databaseUrl, schema: "unused", spoolPath: "unused" },
    );
    const { unit, tags } = pemelStorage(plant);
    const merged = createModbusLink(unit, { log: silentLog() });
    const perTag = createModbusLink({ ...unit, maxGapRegisters: 0 }, { log: silentLog() });
    links.push(merged, perTag);
    await Promise.all(links.map((link) => link.connect()));

    const scans: Record<"plantbridge" | "baseline", Scan> = {
      plantbridge: async () => [...(await merged.read(tags)).values()],
      baseline: async () => {
        const parts = await Promise.all(tags.map((tag) => perTag.read([tag])));
        return parts.flatMap((part) => [...part.values()]);
      },
    };

    const measure = async (scan: Scan, count: number) => {
      const readsBefore = pemel.served.readCount;
      let bad = 0;
      let values = 0;
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        const readings = await scan();
        values += readings.length;
        bad += badCount(readings);
      }
      const seconds = (performance.now() - started) / 1000;
      return {
        "scans/s": count / seconds,
        "requests/scan": (pemel.served.readCount - readsBefore) / count,
        "µs/scan": (seconds * 1e6) / count,
        "tags/scan": values / count,
        bad,
      };
    };

    say(`modbus scan: warm-up (${options.warmUpScans} scans each)`);
    await measure(scans.plantbridge, options.warmUpScans);
    await measure(scans.baseline, options.warmUpScans);
    const repeats: Record<"plantbridge" | "baseline", Record<string, number>[]> = {
      plantbridge: [],
      baseline: [],
    };
    for (let r = 0; r < options.repeats; r++) {
      const order =
        r % 2 === 0 ? (["plantbridge", "baseline"] as const) : (["baseline", "plantbridge"] as const);
      for (const key of order) {
        say(`modbus scan: ${key} run ${r + 1}/${options.repeats} (${options.scans} scans)`);
        repeats[key].push(await measure(scans[key], options.scans));
      }
    }
    const candidate = variantOf(
      `merged by the planner (${tags.length} tags, 1 read call)`,
      "plantbridge",
      repeats.plantbridge,
    );
    const baseline = variantOf(
      "one request per tag (maxGapRegisters 0, tag by tag)",
      "baseline",
      repeats.baseline,
    );
    return {
      id: "modbus-scan",
      title: `2. Modbus scan: PEMEL's ${tags.length} storage tags through one link (jsmodbus client, loopback)`,
      columns: [
        { name: "scans/s", unit: "" },
        { name: "requests/scan", unit: "" },
        { name: "µs/scan", unit: "" },
        { name: "tags/scan", unit: "" },
        { name: "bad", unit: "" },
      ],
      variants: [candidate, baseline],
      ratios: [
        ratioOf("scans/s plantbridge / baseline", candidate, baseline, "scans/s"),
        ratioOf("requests/scan baseline / plantbridge", baseline, candidate, "requests/scan"),
      ],
      goal:
        "DESIGN: beat one-request-per-tag polling. STACK reference: the jsmodbus client does 10–20 k requests/s " +
        "(one in flight); Node-RED's node-red-contrib-modbus about 370 reads/s per connection.",
      notes: [
        `${options.scans} scans per variant and run after ${options.warmUpScans} warm-up scans; medians of ${options.repeats} runs, order alternating.`,
        "Scans run back to back (each awaited); the baseline issues its 30 one-tag reads at once into the link's queue (one request in flight, as jsmodbus allows).",
        "bad = readings with bad quality over the whole run (expected 0).",
      ],
    };
  } finally {
    await Promise.allSettled(links.map((link) => link.close()));
    await pemel.stop();
  }
}
