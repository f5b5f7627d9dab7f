// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders of plant files are plain text here, not template strings
/**
 * `plantbridge import-pycomint DIR`: the original Python tool's four YAML files
 * (config_gen, config_modbus, config_opcua, config_sql) → the text of one plant file.
 *
 * The originals have quirks, all handled here: `...` where a site value was removed (→ ${ENV}
 * placeholders), a stray quote in a value (`python_opcua_user'`), tabs before comments,
 * a node-id list that may be a single string, engineering units only in comments (`[W]`).
 * Secrets are never copied: the passwords always become ${ENV} placeholders.
 */
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { formatAddress } from "./durations.ts";
import {
  comment,
  integer,
  list,
  nodeIdList,
  number,
  type OriginalFile,
  originalError,
  readOriginal,
  seconds,
  text,
  unquote,
} from "./pycomint-originals.ts";

export interface ImportPycomintOptions {
  /** Where the plant file will be written: the curve file is referenced relative to its folder. Default <cwd>/plant.yaml. */
  output?: string;
}

const FILES = ["config_gen.yaml", "config_modbus.yaml", "config_opcua.yaml", "config_sql.yaml"] as const;

interface Signal {
  name: string;
  /** The original's own name or comment, kept as a comment / description. */
  original: string;
  unit?: string;
  description?: string;
}

/** Reads the four files in `dir` and returns the text of an equivalent plant file. */
export async function importPycomint(dir: string, options: ImportPycomintOptions = {}): Promise<string> {
  // Read in parallel, but report a failure in file order: which read fails first must not decide the message.
  const settled = await Promise.allSettled(FILES.map((name) => readOriginal(join(dir, name))));
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  const [gen, modbus, opcua, sqlFile] = settled.map(
    (r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof readOriginal>>>).value,
  );
  const outputDir = dirname(resolve(options.output ?? join(process.cwd(), "plant.yaml")));
  const g = gen!;
  const m = modbus!;
  const o = opcua!;
  const s = sqlFile!;

  const offset = integer(m, ["BASE_REGISTER_OFFSET"], 0);
  const statusAddress = integer(m, ["PEMEL_STATUS", "ADDRESS"]) + offset;
  const valuesAddress = integer(m, ["PROCESS_VALUES", "ADDRESS"]) + offset;
  const count = integer(m, ["PROCESS_VALUES", "COUNT"]);
  const writeRegister = integer(m, ["WRITE_REGISTER"]) + offset;
  const maxCurrent = number(m, ["MAX_CURRENT"]);
  const minCurrent = number(m, ["MIN_CURRENT"]);

  const bitNames: string[] = [];
  for (let bit = 0; bit < 16; bit++) bitNames.push(text(m, ["PEMEL_STATUS", `BIT_${bit}`]) ?? `bit_${bit}`);
  const registers: Signal[] = [];
  for (let i = 0; i < count; i++) {
    const original = text(m, ["PROCESS_VALUES", `REG_${i}`]) ?? `register_${i}`;
    registers.push({
      name: original,
      original,
      ...unitAndDescription(comment(m, ["PROCESS_VALUES", `REG_${i}`])),
    });
  }
  const nodeIds = nodeIdList(o);
  const h2FlowId = text(o, ["H2_FLOW_ID"]);
  if (h2FlowId === undefined)
    throw originalError(o, ["H2_FLOW_ID"], "H2_FLOW_ID (the node id of the H2 demand) is missing");

  // Tag names: the original's column names (lower case) where DB_COLUMNS lines up with the
  // signals it stored (time column, METH values, 16 bits, process values); else its own names.
  const dbColumns = (list(s, ["DB_COLUMNS"]) ?? []).map((c) => unquote(String(c)));
  const aligned = dbColumns.length === 1 + nodeIds.length + 16 + count;
  const used = new Set<string>();
  const nameAt = (column: number, fallback: string): string =>
    uniqueName(used, aligned ? (dbColumns[column] ?? fallback) : fallback);
  const methSignals = nodeIds.map((id, i) => ({ id, name: nameAt(1 + i, lastIdentifier(id)) }));
  const bits = bitNames.map((original, bit) => ({
    bit,
    original,
    name: nameAt(1 + nodeIds.length + bit, original),
  }));
  for (const [i, r] of registers.entries()) r.name = nameAt(1 + nodeIds.length + 16 + i, r.original);
  const setpointName = uniqueName(used, "current_setpoint");
  const demandName = uniqueName(used, "h2_demand");
  const permissive = bits[10]!.name;

  const curve = locateCurve(dir, text(m, ["H2_FLOW_ARRAY"]) ?? "PEMEL_Current_H2Flowrate.txt", outputDir);
  const controlS = seconds(g, ["PEMEL_CONTROL_INTERVAL"], 1);
  const storageS = seconds(g, ["DATA_STORAGE_INTERVAL"], 10);
  const reconnectS = seconds(g, ["RECONNECTION_INTERVAL"], 10);
  const retryS = seconds(m, ["RETRY_INTERVAL"], 2);

  const host = siteValue(text(m, ["IP_ADDRESS"]), "PEMEL_HOST");
  const endpoint = siteValue(text(o, ["URL"]), "METH_ENDPOINT");
  const username = siteValue(text(o, ["USERNAME"]), "METH_USERNAME");
  const table = tableOf(text(s, ["DB_TABLE"]));
  const timeColumn = dbColumns[0] !== undefined ? sqlName(dbColumns[0]) : "timestamp";

  const out: string[] = [];
  const line = (t = ""): void => {
    out.push(t);
  };
  line("# plantbridge plant file, imported from the PyComInt configuration in:");
  line(`#   ${dir}`);
  line("# (plantbridge import-pycomint). Check it with: plantbridge check <this file>");
  line("#");
  line("# Set these environment variables before running it (or replace the placeholders):");
  if (host.placeholder) line("#   PEMEL_HOST        IP address of the electrolyzer (IP_ADDRESS was '...')");
  if (endpoint.placeholder)
    line("#   METH_ENDPOINT     OPC UA endpoint of the methanation, opc.tcp://host:4840 (URL was '...')");
  if (username.placeholder) line("#   METH_USERNAME     OPC UA user name");
  line("#   METH_PASSWORD     OPC UA password (passwords are never copied into a plant file)");
  line(`#   PB_HISTORIAN_URL  ${historianUrlHint(s)}`);
  line("#                     (unset or empty: the embedded PostgreSQL under var/)");
  if (table.placeholder)
    line("#   PB_HISTORIAN_TABLE the table the original wrote to (DB_TABLE was '...'; default pycomint)");
  line("#");
  line(
    `# The original retried a failed connection ${integer(m, ["MAX_RETRIES"], 5)} times, ${retryS} s apart, and reset all`,
  );
  line(
    `# clients every ${reconnectS} s; plantbridge reconnects on its own with a backoff from ${retryS} s to ${reconnectS} s.`,
  );
  if (!aligned) {
    line("#");
    line(
      `# NOTE: DB_COLUMNS has ${dbColumns.length} names, but the original stored ${1 + nodeIds.length + 16 + count} values (time, ${nodeIds.length} METH values, 16 bits, ${count} registers):`,
    );
    line("# the columns below are named after the tags. Check them against your table.");
  }
  line();
  line("plant: power-to-gas");
  line("description: Power-to-Gas pilot plant (imported from PyComInt)");
  line();
  line("units:");
  line("  PEMEL:");
  line("    description: PEM electrolyzer");
  line("    protocol: modbus-tcp");
  line(`    host: ${host.value}`);
  line(`    port: ${integer(m, ["PORT"], 502)}`);
  line(`    unitId: ${integer(m, ["SLAVE_ID"], 1)}`);
  line("    timeout: 1s");
  line(`    reconnect: { initialDelay: ${retryS}s, maxDelay: ${Math.max(retryS, reconnectS)}s }`);
  line("    tags:");
  if (offset !== 0) line(`      # addresses include BASE_REGISTER_OFFSET ${offset}`);
  line("      status:");
  line("        area: holding");
  line(`        address: ${formatAddress(statusAddress)}`);
  line("        type: bits");
  line("        bits:");
  for (const b of bits) line(`          ${b.bit}: ${b.name} # ${oneLine(b.original)}`);
  line(`      # PROCESS_VALUES: ${count} consecutive registers from ${formatAddress(valuesAddress)}`);
  for (const [i, r] of registers.entries()) {
    const fields = [`area: holding`, `address: ${formatAddress(valuesAddress + i)}`, "type: uint16"];
    if (r.unit !== undefined) fields.push(`unit: ${scalar(r.unit)}`);
    if (r.description !== undefined) fields.push(`description: ${scalar(r.description)}`);
    line(`      ${r.name}: { ${fields.join(", ")} } # ${oneLine(r.original)}`);
  }
  line("      # WRITE_REGISTER: the stack current set point in A, written only within MIN/MAX limits");
  line(`      ${setpointName}:`);
  line("        area: holding");
  line(`        address: ${formatAddress(writeRegister)}`);
  line("        type: uint16");
  line("        unit: A");
  line("        description: Stack current set point (EL_Current_SetPoint)");
  line(`        writable: { min: 0, max: ${maxCurrent} }`);
  line();
  line("  METH:");
  line("    description: Biological methanation unit");
  line("    protocol: opcua");
  line(`    endpoint: ${endpoint.value}`);
  line("    security: { mode: None, policy: None }");
  line(`    username: ${username.value}`);
  line("    password: ${METH_PASSWORD}");
  line(`    reconnect: { maxDelay: ${reconnectS}s }`);
  line("    tags:");
  for (const signal of methSignals) line(`      ${signal.name}: { nodeId: ${scalar(signal.id)} }`);
  line(`      ${demandName}: { nodeId: ${scalar(h2FlowId)}, unit: Nl/min, mode: subscribe } # H2_FLOW_ID`);
  line();
  line("control:");
  line("  pemel_follows_meth_h2_demand:");
  line(`    input: METH.${demandName}`);
  line(`    output: PEMEL.${setpointName}`);
  line(`    permissive: PEMEL.${permissive} # status bit 10: ${oneLine(bits[10]!.original)}`);
  line(`    period: ${controlS}s # PEMEL_CONTROL_INTERVAL`);
  line("    onChange: true");
  line("    transform:");
  line("      curve:");
  if (!curve.found) {
    line(`        # NOTE: ${curve.name} was not found next to the PyComInt files; put it at this path`);
  }
  line(`        file: ${scalar(curve.path)}`);
  line("        input: 1 # H2 flow rate [Nl/min]");
  line("        output: 0 # current [A]");
  line(`        atOrAboveTop: ${maxCurrent} # MAX_CURRENT`);
  line("        belowBottom: 0");
  line(`      minimum: { value: ${minCurrent}, replacement: 0 } # MIN_CURRENT: below it, off`);
  line("      round: half-even # as Python's round()");
  line(`      clamp: { min: 0, max: ${maxCurrent} }`);
  line(`    failSafe: { after: ${10 * controlS}s, value: 0 } # new: the original had no fail-safe`);
  line();
  line("storage:");
  line(`  period: ${storageS}s # DATA_STORAGE_INTERVAL`);
  line("  # tags: the tags of the columns below, in column order");
  line("  historian:");
  line("    url: ${PB_HISTORIAN_URL:-}");
  line(`    schema: ${table.schema}`);
  line("    layout: wide # the original's table: one row per storage cycle");
  line(`    table: ${table.value}`);
  line(`    timeColumn: ${timeColumn}`);
  line("    columns:");
  const columnTags = [
    ...methSignals.map((x) => `METH.${x.name}`),
    ...bits.map((b) => `PEMEL.${b.name}`),
    ...registers.map((r) => `PEMEL.${r.name}`),
  ];
  for (const [i, tag] of columnTags.entries()) {
    const original = aligned ? dbColumns[1 + i] : undefined;
    const column =
      original !== undefined ? sqlName(original) : tag.slice(tag.indexOf(".") + 1).replaceAll("-", "_");
    const note =
      original !== undefined && original !== column
        ? ` # DB_COLUMNS: ${original} (PostgreSQL folds unquoted names to lower case)`
        : "";
    line(`      ${column}: ${tag}${note}`);
  }
  line();
  return out.join("\n");
}

/** `Power actual value [W]` → unit W, description "Power actual value". */
function unitAndDescription(note: string | undefined): { unit?: string; description?: string } {
  if (note === undefined) return {};
  const trimmed = note.trim();
  const m = /^(.*?)\s*\[([^\]]+)\]\s*$/.exec(trimmed);
  if (!m) return trimmed === "" ? {} : { description: trimmed };
  const unit = m[2]!.trim().replace(/^NL/, "Nl").replace(/^Bar$/, "bar");
  return { unit, ...(m[1] !== "" ? { description: m[1] } : {}) };
}

/** `...` (a value removed from the published file) or nothing → an ${ENV} placeholder. */
function siteValue(value: string | undefined, variable: string): { value: string; placeholder: boolean } {
  if (value === undefined || value === "" || value === "...")
    return { value: `\${${variable}}`, placeholder: true };
  return { value: scalar(value), placeholder: false };
}

function tableOf(value: string | undefined): { value: string; schema: string; placeholder: boolean } {
  if (value === undefined || value === "" || value === "...") {
    return { value: "${PB_HISTORIAN_TABLE:-pycomint}", schema: "public", placeholder: true };
  }
  const dot = value.indexOf(".");
  if (dot > 0)
    return { value: sqlName(value.slice(dot + 1)), schema: sqlName(value.slice(0, dot)), placeholder: false };
  return { value: sqlName(value), schema: "public", placeholder: false };
}

function historianUrlHint(file: OriginalFile): string {
  const part = (key: string, placeholder: string): string => {
    const v = text(file, [key]);
    return v === undefined || v === "..." ? placeholder : v;
  };
  const user = part("DB_USER", "USER");
  const host = part("DB_HOST", "HOST");
  const port = part("DB_PORT", "5432");
  const name = part("DB_NAME", "DATABASE");
  return `postgres://${user}:PASSWORD@${host}:${port}/${name}`;
}

/** A lower-case PostgreSQL name, as the original's unquoted names were folded. */
function sqlName(name: string): string {
  const cleaned = unquote(name)
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return /^[a-z_]/.test(cleaned) ? cleaned.slice(0, 63) : `_${cleaned}`.slice(0, 63);
}

/** A tag name from an original name: `Safety OK` → safety_ok, `EL_Power_Act` → el_power_act. */
function tagName(original: string): string {
  const cleaned = unquote(original)
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "_")
    .replace(/^[_-]+|[_-]+$/g, "");
  if (cleaned === "") return "tag";
  return /^[a-z_]/.test(cleaned) ? cleaned : `_${cleaned}`;
}

function uniqueName(used: Set<string>, original: string): string {
  const base = tagName(original);
  let name = base;
  for (let n = 2; used.has(name); n++) name = `${base}_${n}`;
  used.add(name);
  return name;
}

/** `ns=7;s=::AsGlobalPV:real_temperature` → real_temperature. */
function lastIdentifier(nodeId: string): string {
  const id = nodeId.replace(/^.*;[isgb]=/, "");
  const parts = id.split(/[:.]/).filter((p) => p !== "");
  return parts[parts.length - 1] ?? id;
}

function locateCurve(
  dir: string,
  name: string,
  outputDir: string,
): { path: string; name: string; found: boolean } {
  const candidates = [resolve(dir, name), resolve(dir, "..", name)];
  const found = candidates.find((c) => existsSync(c));
  const target = found ?? candidates[0]!;
  let path = relative(outputDir, target).split(sep).join("/");
  if (!path.startsWith(".")) path = `./${path}`;
  return { path, name, found: found !== undefined };
}

/** A YAML scalar: plain where that reads back as the same text, double-quoted otherwise. */
function scalar(value: string): string {
  const plain =
    /^[A-Za-z0-9_./°µ%-][A-Za-z0-9_ ./°µ%()-]*$/.test(value) &&
    !/^[-.%]/.test(value) &&
    !/^(true|false|null|yes|no|on|off|~)$/i.test(value) &&
    !/^[-+]?[0-9.]/.test(value) &&
    !value.endsWith(" ");
  return plain ? value : JSON.stringify(value);
}

function oneLine(value: string): string {
  return value.replace(/\s+/g, " ").trim();
}
