/**
 * Whether the client trusts an OPC UA server's certificate. With security None nothing is signed
 * or encrypted and the server's certificate is not checked (as before). With Sign or
 * SignAndEncrypt an unknown server certificate is refused: a person checks it and trusts it with
 * `plantbridge trust FILE UNIT`, which puts it into `<var>/pki/client/trusted/certs/`.
 */
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { OpcuaUnitConfig } from "../../schemas/plant-types.ts";
import { describeCertificate } from "./certificate-info.ts";

/** Security None leaves the server's certificate unchecked; Sign and SignAndEncrypt need it trusted. */
export function acceptsUnknownServerCertificate(unit: Pick<OpcuaUnitConfig, "securityMode">): boolean {
  return unit.securityMode === "None";
}

/** A word of a shell command, quoted when it needs to be. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * `plantbridge VERB FILE UNIT [--var DIR]` for this unit and PKI folder, e.g. the command that
 * trusts its server (`trust`) or renews the client's certificate (`pki renew`).
 */
export function unitCommand(
  verb: string,
  unit: Pick<OpcuaUnitConfig, "name" | "position">,
  pkiDir: string,
): string {
  const file = unit.position?.file ?? "FILE";
  const varDir = dirname(resolve(pkiDir));
  const varOption = varDir === resolve("var") ? "" : ` --var ${shellWord(varDir)}`;
  return `plantbridge ${verb} ${shellWord(file)} ${unit.name}${varOption}`;
}

/** `plantbridge trust FILE UNIT [--var DIR]`: the command that trusts this unit's server. */
export function trustCommand(unit: Pick<OpcuaUnitConfig, "name" | "position">, pkiDir: string): string {
  return unitCommand("trust", unit, pkiDir);
}

/** node-opcua's refusal of the server's certificate; the status says why. */
const VERIFICATION_FAILED = /server Certificate verification failed with err (Bad[A-Za-z]+)/;

/**
 * The coded error for a connect that failed because the server's certificate was refused
 * (PB_ERR_OPCUA_UNTRUSTED_SERVER, naming the trust command), or undefined for any other failure.
 */
export function untrustedServerError(
  unit: Pick<OpcuaUnitConfig, "name" | "position">,
  pkiDir: string,
  e: unknown,
): PlantbridgeError | undefined {
  const status = VERIFICATION_FAILED.exec(errorMessage(e))?.[1];
  if (status === undefined) return undefined;
  const command = trustCommand(unit, pkiDir);
  let message: string;
  if (status === "BadCertificateUntrusted") {
    message = `the server's certificate is not trusted (${status}): check it and trust it with: ${command}`;
  } else if (status === "BadCertificateTimeInvalid" || status === "BadCertificateIssuerTimeInvalid") {
    message = `the server's certificate is outside its validity period (${status}): the server needs a new certificate (see it with: ${command})`;
  } else {
    message = `the server's certificate was refused (${status}); see it with: ${command}`;
  }
  return new PlantbridgeError(ErrorCode.OPCUA_UNTRUSTED_SERVER, message, { unit: unit.name }, { cause: e });
}

export type TrustState = "trusted" | "rejected" | "unknown";

/** The client's trust store: `<pkiDir>/client`. */
export function clientPkiFolder(pkiDir: string): string {
  return join(pkiDir, "client");
}

async function fingerprintsIn(folder: string): Promise<Set<string>> {
  const found = new Set<string>();
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return found;
  }
  for (const name of names) {
    try {
      found.add(describeCertificate(await readFile(join(folder, name))).sha256);
    } catch {
      // not a certificate (a CRL, a note): not ours to judge
    }
  }
  return found;
}

/** Where the client's store has the certificate: read only, nothing is moved or written. */
export async function serverCertificateTrust(pkiDir: string, leaf: Buffer): Promise<TrustState> {
  const sha256 = describeCertificate(leaf).sha256;
  const root = clientPkiFolder(pkiDir);
  if ((await fingerprintsIn(join(root, "trusted", "certs"))).has(sha256)) return "trusted";
  if ((await fingerprintsIn(join(root, "rejected"))).has(sha256)) return "rejected";
  return "unknown";
}
