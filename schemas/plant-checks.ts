/**
 * The rules a JSON Schema cannot say: references between units, loops and storage; what may
 * be written; what fits in a register; files that must exist; durations that must be positive.
 * Each rule adds a problem at the key it concerns; all rules run, so a person sees every problem.
 */
import { statSync } from "node:fs";
import type { PlantbridgeError } from "../lib/errors.ts";
import { Checker } from "./checker.ts";
import { formatAddress, parseAddress } from "./durations.ts";
import { checkHistorian } from "./historian-checks.ts";
import { curvePath } from "./normalise-plant.ts";
import { modbusRegisterWidth } from "./plant-types.ts";
import type {
  RawControlLoop,
  RawLimits,
  RawModbusTag,
  RawModbusUnit,
  RawOpcuaUnit,
  RawPlant,
  RawReconnect,
  RawStorage,
} from "./raw-plant.ts";
import {
  type CataloguedTag,
  catalogueTags,
  findTag,
  modbusType,
  type TagCatalogue,
} from "./tag-catalogue.ts";
import { locate, type PlantSource } from "./yaml-source.ts";

/** Registers a Modbus data type of the plant file occupies (a `bits` status word is one register). */
export const REGISTERS_OF = { ...modbusRegisterWidth, bits: 1 } as const;

/** Raw integer range of the integer types, for the limits of a writable tag. */
const RAW_RANGE: Partial<Record<keyof typeof REGISTERS_OF, [number, number]>> = {
  bool: [0, 1],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

const WIDE_TYPES = new Set(["int32", "uint32", "float32", "float64"]);

/** Runs every semantic rule; the problems found, none when the plant is sound. */
export function checkPlant(source: PlantSource, plant: RawPlant): PlantbridgeError[] {
  const check = new Checker(source);
  const catalogue = catalogueTags(plant);
  for (const { tag, first } of catalogue.clashes) {
    const where = locate(source, first.path);
    check.report(
      tag.path,
      `tag name "${tag.name}" is used twice in unit ${tag.unit} (first on line ${where.line})`,
    );
  }
  for (const [name, unit] of Object.entries(plant.units)) {
    if (unit.protocol === "modbus-tcp") checkModbusUnit(check, name, unit);
    else checkOpcuaUnit(check, name, unit);
  }
  checkControl(check, catalogue, plant.control ?? {});
  if (plant.storage !== undefined) checkStorage(check, catalogue, plant.storage);
  return check.problems;
}

function checkReconnect(check: Checker, path: string[], reconnect: RawReconnect | undefined): void {
  if (reconnect === undefined) return;
  const initial = check.duration([...path, "initialDelay"], reconnect.initialDelay);
  const max = check.duration([...path, "maxDelay"], reconnect.maxDelay);
  if ((initial ?? 500) > (max ?? 30_000)) {
    check.report([...path, "maxDelay"], "maxDelay is below initialDelay");
  }
  check.duration([...path, "stableAfter"], reconnect.stableAfter);
}

function checkModbusUnit(check: Checker, unit: string, config: RawModbusUnit): void {
  const base = ["units", unit];
  check.duration([...base, "timeout"], config.timeout);
  checkReconnect(check, [...base, "reconnect"], config.reconnect);
  checkDemotion(check, base, config);
  for (const [name, tag] of Object.entries(config.tags)) checkModbusTag(check, [...base, "tags", name], tag);
}

/** `demotion` belongs to shared connections; its longest period is not below its first. */
function checkDemotion(check: Checker, base: string[], config: RawModbusUnit): void {
  const demotion = config.demotion;
  if (demotion === undefined) return;
  const path = [...base, "demotion"];
  if (config.connection !== "shared") {
    check.report(
      path,
      "demotion applies to units on a shared connection only (connection: shared); a unit with a connection of its own reconnects instead",
      "key",
    );
  }
  const period = check.duration([...path, "period"], demotion.period);
  const maxPeriod = check.duration([...path, "maxPeriod"], demotion.maxPeriod);
  if (period !== undefined && maxPeriod !== undefined && maxPeriod < period) {
    check.report([...path, "maxPeriod"], "maxPeriod is below period");
  }
}

function checkModbusTag(check: Checker, path: string[], tag: RawModbusTag): void {
  check.duration([...path, "maxAge"], tag.maxAge);
  const type = modbusType(tag);
  const bitArea = tag.area === "coil" || tag.area === "discrete";
  if (bitArea && type !== "bool") {
    check.report([...path, "type"], `the ${tag.area} area holds single bits: type must be bool, not ${type}`);
  } else if (!bitArea && type === "bool") {
    check.report(
      [...path, "type"],
      `type bool is for the coil and discrete areas; a ${tag.area} register is read as a number, or as type bits to name its bits`,
    );
  }
  if (tag.bits !== undefined && type !== "bits") {
    check.report(
      [...path, "bits"],
      `bits names the bits of a status word: it needs type: bits (not ${type})`,
      "key",
    );
  }
  if (tag.wordOrder !== undefined && !WIDE_TYPES.has(type)) {
    check.report(
      [...path, "wordOrder"],
      `wordOrder applies only to 32- and 64-bit types (int32, uint32, float32, float64), not to ${type}`,
      "key",
    );
  }
  const address = parseAddress(tag.address);
  const size = REGISTERS_OF[type];
  if (!Number.isInteger(address) || address < 0 || address > 65535) {
    check.report([...path, "address"], "the address is outside 0..65535 (0x0000..0xFFFF)");
  } else if (address + size - 1 > 65535) {
    check.report(
      [...path, "address"],
      `a ${type} needs ${size} registers: from ${formatAddress(address)} it runs past the last address 0xFFFF`,
    );
  }
  if (tag.scale === 0)
    check.report([...path, "scale"], "scale must not be 0 (engineering value = raw × scale + offset)");
  const writable = tag.writable;
  if (writable === undefined) return;
  if (tag.area !== "holding" && tag.area !== "coil") {
    check.report(
      [...path, "writable"],
      `the ${tag.area} area is read-only in Modbus: only holding registers and coils can be writable`,
      "key",
    );
  } else if (type === "bits") {
    check.report(
      [...path, "writable"],
      "the bits of a status word are read-only; declare a separate writable register or coil",
      "key",
    );
  } else {
    check.limits([...path, "writable"], writable);
    checkRawRange(check, path, type, tag, writable);
  }
}

/** The limits of a writable integer register must be writable as raw values of its type. */
function checkRawRange(
  check: Checker,
  path: string[],
  type: string,
  tag: RawModbusTag,
  limits: RawLimits,
): void {
  const range = RAW_RANGE[type as keyof typeof RAW_RANGE];
  if (range === undefined || limits.min > limits.max) return;
  const scale = tag.scale ?? 1;
  const offset = tag.offset ?? 0;
  if (scale === 0) return;
  for (const key of ["min", "max"] as const) {
    const raw = (limits[key] - offset) / scale;
    if (raw < range[0] || raw > range[1]) {
      check.report(
        [...path, "writable", key],
        `${key} ${limits[key]} cannot be written to a ${type} (raw value ${raw} is outside ${range[0]}..${range[1]})`,
      );
    }
  }
}

function checkOpcuaUnit(check: Checker, unit: string, config: RawOpcuaUnit): void {
  const base = ["units", unit];
  const mode = config.security?.mode ?? "None";
  const policy = config.security?.policy ?? "None";
  if (mode === "None" && policy !== "None") {
    check.report([...base, "security", "policy"], `security mode None goes with policy None, not ${policy}`);
  } else if (mode !== "None" && policy === "None") {
    check.report(
      [...base, "security", "policy"],
      `security mode ${mode} needs a policy (Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss)`,
    );
  }
  if ((config.username === undefined) !== (config.password === undefined)) {
    const given = config.username !== undefined ? "username" : "password";
    const other = given === "username" ? "password" : "username";
    check.report(
      [...base, given],
      `${given} needs ${other} too: give both (user identity) or neither (anonymous)`,
      "key",
    );
  }
  check.duration([...base, "timeout"], config.timeout);
  check.duration([...base, "keepAlive"], config.keepAlive);
  check.duration([...base, "publishingInterval"], config.publishingInterval);
  checkReconnect(check, [...base, "reconnect"], config.reconnect);
  for (const [name, tag] of Object.entries(config.tags)) {
    const path = [...base, "tags", name];
    check.duration([...path, "samplingInterval"], tag.samplingInterval, true);
    check.duration([...path, "maxAge"], tag.maxAge);
    if (tag.deadband?.type === "percent" && tag.deadband.value > 100) {
      check.report([...path, "deadband", "value"], "a percent deadband must be 0..100");
    }
    if (tag.writable !== undefined) {
      check.limits([...path, "writable"], tag.writable);
      if (tag.dataType === "Boolean" && (tag.writable.min < 0 || tag.writable.max > 1)) {
        check.report(
          [...path, "writable"],
          "a Boolean variable is written as 0 or 1: limits must lie within 0..1",
          "key",
        );
      }
    }
  }
}

function reference(
  check: Checker,
  catalogue: TagCatalogue,
  path: string[],
  ref: string,
): CataloguedTag | undefined {
  const found = findTag(catalogue, ref);
  if (typeof found === "string") {
    check.report(path, found);
    return undefined;
  }
  return found;
}

function checkControl(check: Checker, catalogue: TagCatalogue, loops: Record<string, RawControlLoop>): void {
  const writers = new Map<string, string>();
  for (const [name, loop] of Object.entries(loops)) {
    const path = ["control", name];
    reference(check, catalogue, [...path, "input"], loop.input);
    const output = reference(check, catalogue, [...path, "output"], loop.output);
    if (loop.permissive !== undefined) {
      const permissive = reference(check, catalogue, [...path, "permissive"], loop.permissive);
      if (permissive !== undefined && !permissive.boolean) {
        check.report(
          [...path, "permissive"],
          `permissive ${loop.permissive} is not a boolean tag: use a status bit, a bool coil/discrete input or an OPC UA Boolean`,
        );
      }
    }
    if (loop.output === loop.input) check.report([...path, "output"], "a loop cannot write the tag it reads");
    const writer = writers.get(loop.output);
    if (writer !== undefined) {
      check.report([...path, "output"], `${loop.output} is already written by control loop ${writer}`);
    } else {
      writers.set(loop.output, name);
    }
    if (output !== undefined && output.writable === undefined) {
      check.report(
        [...path, "output"],
        `${loop.output} is not writable: give the tag writable: { min, max } (only holding registers, coils and OPC UA variables can be)`,
      );
    }
    const limits = output?.writable;
    check.duration([...path, "period"], loop.period);
    check.duration([...path, "staleAfter"], loop.staleAfter);
    check.duration([...path, "failSafe", "after"], loop.failSafe.after);
    check.duration([...path, "minWriteInterval"], loop.minWriteInterval, true);
    check.duration([...path, "reassert"], loop.reassert);
    if (limits !== undefined && (loop.failSafe.value < limits.min || loop.failSafe.value > limits.max)) {
      check.report(
        [...path, "failSafe", "value"],
        `the fail-safe value ${loop.failSafe.value} is outside the output's writable limits ${limits.min}..${limits.max}`,
      );
    }
    checkTransform(check, [...path, "transform"], loop, limits);
  }
}

function checkTransform(
  check: Checker,
  path: string[],
  loop: RawControlLoop,
  limits: RawLimits | undefined,
): void {
  const transform = loop.transform;
  if (transform === undefined) return;
  const clamp = transform.clamp;
  if (clamp !== undefined) {
    check.limits([...path, "clamp"], clamp);
    if (limits !== undefined && clamp.min <= clamp.max) {
      if (clamp.min < limits.min) {
        check.report(
          [...path, "clamp", "min"],
          `clamp min ${clamp.min} is below the output's writable min ${limits.min}`,
        );
      }
      if (clamp.max > limits.max) {
        check.report(
          [...path, "clamp", "max"],
          `clamp max ${clamp.max} is above the output's writable max ${limits.max}`,
        );
      }
    }
  }
  const curve = transform.curve;
  if (curve !== undefined) {
    const file = curvePath(check.source.file, curve.file);
    if (!isFile(file)) {
      check.report([...path, "curve", "file"], `curve file ${curve.file} not found (looked for ${file})`);
    }
    if ((curve.input ?? 0) === (curve.output ?? 1)) {
      check.report([...path, "curve", "output"], "the curve's input and output must be different columns");
    }
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function checkStorage(check: Checker, catalogue: TagCatalogue, storage: RawStorage): void {
  const period = check.duration(["storage", "period"], storage.period);
  const deadline = check.duration(["storage", "deadline"], storage.deadline);
  if (deadline !== undefined && deadline >= (period ?? 10_000)) {
    check.report(
      ["storage", "deadline"],
      `the deadline ${deadline} ms must be shorter than the storage period ${period ?? 10_000} ms`,
    );
  }
  const stored = new Map<string, number>();
  if (Array.isArray(storage.tags)) {
    storage.tags.forEach((ref, index) => {
      const path = ["storage", "tags", String(index)];
      reference(check, catalogue, path, ref);
      const first = stored.get(ref);
      if (first !== undefined) {
        check.report(path, `${ref} is listed twice (first as item ${first})`);
      } else {
        stored.set(ref, index);
      }
    });
  }
  checkHistorian(check, catalogue, storage, stored);
}
