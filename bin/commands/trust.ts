/**
 * `plantbridge trust FILE UNIT [--yes]`: shows the certificate an OPC UA server presents (subject,
 * issuer, SHA-1 and SHA-256 fingerprints, validity, application URI) and, once a person has
 * compared it with what the server's operator sees, puts it into the client's trust list under
 * `<var>/pki/client/trusted/certs/`. With security Sign or SignAndEncrypt the link connects only
 * to a server whose certificate is there.
 */
import { errorMessage } from "../../lib/errors.ts";
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

const trustWords = {
  trusted: "already in the trust list",
  rejected: "not trusted: a refused connect put it in the rejected list",
  unknown: "not trusted yet",
} as const;

export async function trustCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...commonOptions,
    yes: { type: "boolean", short: "y" },
  });
  const [file, unitName, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`one unit only; extra: ${extra.join(" ")}`);
  const plant = await loadPlant(file, values.var);
  const unit = findUnit(plant, unitName);
  if (unit.protocol !== "opcua") throw new UsageError(`${unit.name} is a Modbus unit: it has no certificate`);
  const context = commissioning(plant, values["log-level"]);
  await routeOpcuaLogs(context);
  const [{ fetchServerCertificate, trustServerCertificate }, info, trust, pki] = await Promise.all([
    import("../../adapters/opcua/server-certificate.ts"),
    import("../../adapters/opcua/certificate-info.ts"),
    import("../../adapters/opcua/server-trust.ts"),
    import("../../adapters/opcua/client-pki.ts"),
  ]);
  let fetched: Awaited<ReturnType<typeof fetchServerCertificate>>;
  try {
    fetched = await fetchServerCertificate(unit, context.pkiDir);
  } catch (e) {
    process.stderr.write(`${errorMessage(e)}\n`);
    return ExitCode.failed;
  }
  const [leaf, ...issuers] = fetched.chain;
  if (leaf === undefined) throw new Error("the server sent an empty certificate chain");
  const now = Date.now();
  const state = await trust.serverCertificateTrust(context.pkiDir, leaf);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`${unit.name}: the server at ${fetched.endpointUrl} presents this certificate:`);
  for (const line of info.certificateLines(info.describeCertificate(leaf), now)) out(`  ${line}`);
  if (issuers.length > 0) out(`  issued through ${issuers.length} more certificate(s) in its chain`);
  out(`  offered: ${fetched.offered.map((o) => `${o.securityMode}/${o.securityPolicy}`).join(", ")}`);
  out(`  trust list: ${trustWords[state]} (${trust.clientPkiFolder(context.pkiDir)})`);
  if (!fetched.matchesUnit) {
    process.stderr.write(
      `${unit.name}: the server offers no endpoint with ${unit.securityMode}/${unit.securityPolicy}, which the plant file asks for\n`,
    );
  }
  if (state === "trusted") return ExitCode.ok;
  if (values.yes !== true) {
    if (!canAsk()) throw new UsageError("no terminal to confirm on: give --yes to trust without asking");
    const question = `Trust this certificate for ${unit.name}? Compare its SHA-1 or SHA-256 fingerprint with the server's own first.`;
    if (!(await confirm(question))) {
      process.stderr.write(`${unit.name}: not trusted\n`);
      return ExitCode.ok;
    }
  }
  await trustServerCertificate(context.pkiDir, fetched.chain);
  out(`${unit.name}: trusted; the link will now connect with ${unit.securityMode}/${unit.securityPolicy}`);
  const own = await pki.clientCertificate(context.pkiDir);
  if (unit.securityMode !== "None" && own !== undefined) {
    out(
      `  the server must trust this client too: give its operator ${pki.clientCertificateFiles(context.pkiDir).certificate} (SHA-1 ${own.sha1})`,
    );
  }
  return ExitCode.ok;
}
