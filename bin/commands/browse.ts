/**
 * `plantbridge browse FILE UNIT [NODE] [--depth N]`: an OPC UA unit's address space as a tree, from
 * the Objects folder (or NODE: a node id, `nsu=…;s=…`, or one of the unit's tag names), with node
 * ids, browse names, data types and access levels, and the plant file's tags where they read.
 */
import { errorMessage } from "../../lib/errors.ts";
import type { OpcuaUnitConfig } from "../../schemas/plant-types.ts";
import { browseTree } from "../commissioning/browse-tree.ts";
import {
  commonOptions,
  ExitCode,
  findUnit,
  loadPlant,
  parseCommandLine,
  UsageError,
} from "../commissioning/command-line.ts";
import { commissioning, routeOpcuaLogs } from "../commissioning/unit-links.ts";

const OBJECTS_FOLDER = "ns=0;i=85";

export async function browseCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...commonOptions,
    depth: { type: "string" },
  });
  const [file, unitName, node, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`one start node only; extra: ${extra.join(" ")}`);
  const depth = values.depth === undefined ? 3 : Number(values.depth);
  if (!Number.isInteger(depth) || depth < 0 || depth > 20) {
    throw new UsageError(`--depth must be a whole number from 0 to 20, got "${values.depth}"`);
  }
  const plant = await loadPlant(file, values.var);
  const unit = findUnit(plant, unitName);
  if (unit.protocol !== "opcua") {
    throw new UsageError(`${unit.name} is a Modbus unit: look at its registers with plantbridge scan`);
  }
  const context = commissioning(plant, values["log-level"]);
  await routeOpcuaLogs(context);
  const [{ openUnitSession }, { browseAddressSpace }, { resolveTagNodeId }] = await Promise.all([
    import("../../adapters/opcua/session.ts"),
    import("../../adapters/opcua/browse.ts"),
    import("../../adapters/opcua/node-ids.ts"),
  ]);
  try {
    const opened = await openUnitSession(unit, context.pkiDir, context.log);
    try {
      const startText = startNode(unit, node);
      const start = resolveTagNodeId(startText, opened.namespaceArray);
      if (!start.ok) {
        process.stderr.write(`${unit.name}: node ${startText}: ${start.reason}\n`);
        return ExitCode.failed;
      }
      const tree = await browseAddressSpace(opened.session, start.nodeId, {
        depth,
        timeoutMs: unit.timeoutMs,
        origin: { unit: unit.name },
      });
      process.stdout.write(
        `${browseTree(tree, tagsByNode(unit, opened.namespaceArray, resolveTagNodeId)).join("\n")}\n`,
      );
      return ExitCode.ok;
    } finally {
      await opened.close();
    }
  } catch (e) {
    process.stderr.write(`${errorMessage(e)}\n`);
    return ExitCode.failed;
  }
}

/** NODE as given, a tag's node id when NODE names one of the unit's tags, else the Objects folder. */
function startNode(unit: OpcuaUnitConfig, node: string | undefined): string {
  if (node === undefined) return OBJECTS_FOLDER;
  return unit.tags.find((t) => t.name === node)?.nodeId ?? node;
}

/** The unit's tags by the node id they read (as the server writes it), for `= METH.h2_demand`. */
function tagsByNode(
  unit: OpcuaUnitConfig,
  namespaceArray: readonly string[],
  resolve: typeof import("../../adapters/opcua/node-ids.ts").resolveTagNodeId,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const tag of unit.tags) {
    const r = resolve(tag.nodeId, namespaceArray);
    if (r.ok) out.set(r.nodeId.toString(), `${unit.name}.${tag.name}`);
  }
  return out;
}
