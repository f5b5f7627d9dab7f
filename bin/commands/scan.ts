/**
 * `plantbridge scan FILE UNIT --from ADDR --count N [--area holding|input|coil|discrete]`: a Modbus
 * unit's registers (or coils) as a table, with the plant file's tags decoded where they map. The
 * range is read through the unit's own link: its planner splits it into requests of at most the
 * unit's `maxRegistersPerRequest` (the protocol's 125 registers, 2000 coils at most), one at a time.
 * Registers the unit refuses show its answer; exit 1 names the failed ranges.
 */

import { errorMessage } from "../../lib/errors.ts";
import { formatAddress, parseAddress } from "../../schemas/durations.ts";
import type { ModbusArea, ModbusTagConfig, ModbusUnitConfig } from "../../schemas/plant-types.ts";
import {
  commonOptions,
  ExitCode,
  findUnit,
  loadPlant,
  parseCommandLine,
  UsageError,
} from "../commissioning/command-line.ts";
import { failedRanges, type ScannedValue, type ScanRange, scanTable } from "../commissioning/scan-table.ts";
import { commissioning, withUnitLink } from "../commissioning/unit-links.ts";

const areas: readonly ModbusArea[] = ["holding", "input", "coil", "discrete"];

export async function scanCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...commonOptions,
    from: { type: "string" },
    count: { type: "string" },
    area: { type: "string" },
  });
  const [file, unitName, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected: ${extra.join(" ")}`);
  const range = scanRange(values.from, values.count, values.area);
  const plant = await loadPlant(file, values.var);
  const unit = findUnit(plant, unitName);
  if (unit.protocol !== "modbus-tcp") {
    throw new UsageError(`${unit.name} is an OPC UA unit: look at it with plantbridge browse`);
  }
  const context = commissioning(plant, values["log-level"]);
  const probe = probeUnit(unit, range);
  let scanned: Map<number, ScannedValue>;
  try {
    scanned = await withUnitLink(probe, context, async (link) => {
      const readings = await link.read(probe.tags.map((t) => t.name));
      const out = new Map<number, ScannedValue>();
      for (const tag of probe.tags) {
        const r = readings.get(tag.name);
        out.set(
          tag.address,
          r?.quality === "good" && r.value !== null
            ? { raw: Number(r.value) }
            : { reason: r?.reason ?? "no value" },
        );
      }
      return out;
    });
  } catch (e) {
    process.stderr.write(`${errorMessage(e)}\n`);
    return ExitCode.failed;
  }
  const what =
    range.area === "coil" || range.area === "discrete" ? `${range.area}s` : `${range.area} registers`;
  const last = formatAddress(range.from + range.count - 1);
  process.stdout.write(
    `${unit.name} ${what} ${formatAddress(range.from)}..${last} (${range.count}) at ${unit.host}:${unit.port}, unit id ${unit.unitId}\n`,
  );
  process.stdout.write(`${scanTable(unit.tags, range, scanned).join("\n")}\n`);
  const failed = failedRanges(range, scanned);
  for (const f of failed) process.stderr.write(`${unit.name} ${range.area} ${f}\n`);
  return failed.length === 0 ? ExitCode.ok : ExitCode.failed;
}

function scanRange(from: string | undefined, count: string | undefined, area: string | undefined): ScanRange {
  if (from === undefined || count === undefined) throw new UsageError("give --from ADDR and --count N");
  const start = parseAddress(from);
  if (!Number.isInteger(start) || start < 0 || start > 0xffff) {
    throw new UsageError(`--from must be an address 0..65535 (decimal or 0x hex), got "${from}"`);
  }
  const n = Number(count);
  if (!Number.isInteger(n) || n < 1 || start + n > 0x10000) {
    throw new UsageError(
      `--count must be a whole number from 1 to ${0x10000 - start} (the end of the address space)`,
    );
  }
  const chosen = (area ?? "holding") as ModbusArea;
  if (!areas.includes(chosen))
    throw new UsageError(`--area must be one of ${areas.join(", ")}, got "${area}"`);
  return { area: chosen, from: start, count: n };
}

/**
 * The unit with one probe tag per address of the range (a raw uint16 per register, a bool per
 * coil) and nothing bridged: the link's planner and queue do the rest, as for any read.
 */
function probeUnit(unit: ModbusUnitConfig, range: ScanRange): ModbusUnitConfig {
  const bits = range.area === "coil" || range.area === "discrete";
  const tags: ModbusTagConfig[] = [];
  for (let address = range.from; address < range.from + range.count; address++) {
    tags.push({
      name: `${range.area}@${address}`,
      area: range.area,
      address,
      type: bits ? "bool" : "uint16",
      wordOrder: "ABCD",
      scale: 1,
      offset: 0,
    });
  }
  return { ...unit, maxGapRegisters: 0, tags };
}
