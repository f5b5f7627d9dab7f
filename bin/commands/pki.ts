/**
 * `plantbridge pki show|renew FILE [UNIT] [--yes]`: the OPC UA client's own certificate (one per
 * var folder, shared by every OPC UA unit of the plant): show it, or renew it — a new key pair and
 * certificate, the old ones kept as `….bak` files. Servers that check clients must then be given
 * the new certificate. UNIT picks whose settings the certificate is made with (default: the
 * plant's first OPC UA unit).
 */
import type { OpcuaUnitConfig, PlantConfig } from "../../schemas/plant-types.ts";
import {
  commonOptions,
  ExitCode,
  findUnit,
  loadPlant,
  parseCommandLine,
  UsageError,
} from "../commissioning/command-line.ts";
import { canAsk, confirm } from "../commissioning/confirm.ts";
import { commissioning, routeOpcuaLogs } from "../commissioning/unit-links.ts";

export async function pkiCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...commonOptions,
    yes: { type: "boolean", short: "y" },
  });
  const [action, file, unitName, ...extra] = positionals;
  if (action !== "renew" && action !== "show") throw new UsageError("say pki show or pki renew");
  if (extra.length > 0) throw new UsageError(`unexpected: ${extra.join(" ")}`);
  const plant = await loadPlant(file, values.var);
  const unit = opcuaUnit(plant, unitName);
  const context = commissioning(plant, values["log-level"]);
  await routeOpcuaLogs(context);
  const [pki, info] = await Promise.all([
    import("../../adapters/opcua/client-pki.ts"),
    import("../../adapters/opcua/certificate-info.ts"),
  ]);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const files = pki.clientCertificateFiles(context.pkiDir);
  const current = await pki.clientCertificate(context.pkiDir);
  if (action === "show" || current !== undefined) {
    out(
      current === undefined ? `no client certificate yet at ${files.certificate}` : `${files.certificate}:`,
    );
    if (current !== undefined)
      for (const line of info.certificateLines(current, Date.now())) out(`  ${line}`);
  }
  if (action === "show") return ExitCode.ok;
  if (values.yes !== true) {
    if (!canAsk()) throw new UsageError("no terminal to confirm on: give --yes to renew without asking");
    const question =
      "Make a new key pair and certificate? Servers that trust the current one must then be given the new one.";
    if (!(await confirm(question))) {
      process.stderr.write("not renewed\n");
      return ExitCode.ok;
    }
  }
  const renewed = await pki.renewClientCertificate(unit, context.pkiDir, new Date());
  out(`renewed: ${files.certificate} (new key ${files.privateKey})`);
  for (const line of info.certificateLines(renewed.certificate, Date.now())) out(`  ${line}`);
  for (const backup of renewed.backups) out(`  kept: ${backup}`);
  out("  give the new certificate to every server that checks its clients (Sign, SignAndEncrypt)");
  return ExitCode.ok;
}

function opcuaUnit(plant: PlantConfig, name: string | undefined): OpcuaUnitConfig {
  if (name !== undefined) {
    const unit = findUnit(plant, name);
    if (unit.protocol !== "opcua")
      throw new UsageError(`${unit.name} is a Modbus unit: it has no certificate`);
    return unit;
  }
  const first = plant.units.find((u): u is OpcuaUnitConfig => u.protocol === "opcua");
  if (first === undefined)
    throw new UsageError("the plant has no OPC UA unit: there is no client certificate");
  return first;
}
