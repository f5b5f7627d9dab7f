/**
 * The client's own certificate, made once per PKI folder before the first connect. Creating it
 * (an RSA key and a self-signed certificate) is local work that can take seconds on a busy
 * machine; it must not eat into the unit's connect timeout, which bounds talking to the unit.
 * At every connect the certificate's expiry is looked at: within 30 days of it (or past it) a
 * warning says so, at most once a day per folder. `renewClientCertificate` makes a new key pair
 * and certificate and keeps the old ones as backup files.
 */
import { existsSync } from "node:fs";
import { readFile, rename } from "node:fs/promises";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { OPCUAClient } from "node-opcua-client";
import { errorMessage } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { OpcuaUnitConfig } from "../../schemas/plant-types.ts";
import { type CertificateInfo, daysLeft, describeCertificate } from "./certificate-info.ts";
import { clientCertificateManager, opcuaClientOptions } from "./client-options.ts";
import { clientPkiFolder, unitCommand } from "./server-trust.ts";

/** Warn this long before the client's certificate expires. */
export const EXPIRY_WARNING_DAYS = 30;
const WARNING_REPEAT_MS = 24 * 3_600_000;

const prepared = new Map<string, Promise<void>>();
/** performance.now() of the last expiry warning, per PKI folder. */
const warned = new Map<string, number>();

/** The client's certificate and private key files (as node-opcua names them). */
export function clientCertificateFiles(pkiDir: string): { certificate: string; privateKey: string } {
  const root = clientPkiFolder(pkiDir);
  return {
    certificate: join(root, "own", "certs", "client_certificate.pem"),
    privateKey: join(root, "own", "private", "private_key.pem"),
  };
}

/**
 * Resolves when `<pkiDir>/client` holds the client's key and certificate (created with the same
 * application name and URI the link's clients use). Shared by every link of the process that
 * uses the same folder; a failure is not cached, the next connect tries again. With a log, the
 * certificate's expiry is checked on every call (warned at most once a day).
 */
export async function prepareClientPki(unit: OpcuaUnitConfig, pkiDir: string, log?: Log): Promise<void> {
  const key = resolve(pkiDir);
  let work = prepared.get(key);
  if (work === undefined) {
    work = createClientCertificate(unit, pkiDir);
    prepared.set(key, work);
    work.catch(() => prepared.delete(key));
  }
  await work;
  if (log !== undefined) await warnIfExpiring(unit, pkiDir, log, Date.now());
}

async function createClientCertificate(unit: OpcuaUnitConfig, pkiDir: string): Promise<void> {
  const manager = clientCertificateManager(pkiDir);
  try {
    await manager.initialize();
    const client = OPCUAClient.create({
      ...opcuaClientOptions(unit, pkiDir),
      clientCertificateManager: manager,
    });
    await client.createDefaultCertificate();
  } finally {
    await manager.dispose();
  }
}

/** The client's own certificate, or undefined when there is none (yet). */
export async function clientCertificate(pkiDir: string): Promise<CertificateInfo | undefined> {
  const file = clientCertificateFiles(pkiDir).certificate;
  if (!existsSync(file)) return undefined;
  return describeCertificate(await readFile(file));
}

/** Logs a warning when the client's certificate expires within 30 days or has expired. */
export async function warnIfExpiring(
  unit: Pick<OpcuaUnitConfig, "name" | "position">,
  pkiDir: string,
  log: Log,
  now: number,
): Promise<void> {
  const key = resolve(pkiDir);
  const last = warned.get(key);
  if (last !== undefined && performance.now() - last < WARNING_REPEAT_MS) return;
  let info: CertificateInfo | undefined;
  try {
    info = await clientCertificate(pkiDir);
  } catch (e) {
    log.warn({ reason: errorMessage(e) }, "the OPC UA client certificate cannot be read");
    return;
  }
  if (info === undefined) return;
  const left = daysLeft(info, now);
  if (left >= EXPIRY_WARNING_DAYS) return;
  warned.set(key, performance.now());
  const when = info.validTo.toISOString();
  const renew = `renew it with: ${unitCommand("pki renew", unit, pkiDir)}`;
  log.warn(
    { validTo: when, daysLeft: left, file: clientCertificateFiles(pkiDir).certificate },
    left < 0
      ? `the OPC UA client certificate expired on ${when}: servers that check it refuse the connection; ${renew}`
      : `the OPC UA client certificate expires in ${left} days (${when}); ${renew}`,
  );
}

export interface RenewedCertificate {
  certificate: CertificateInfo;
  /** Where the previous certificate and key were moved (absent when there were none). */
  backups: string[];
}

/**
 * A new key pair and a new self-signed certificate for the client. The previous certificate and
 * private key are renamed to `….<time>.bak` beside them, never deleted. Servers that trusted the
 * old certificate must be given the new one (`own/certs/client_certificate.pem`).
 */
export async function renewClientCertificate(
  unit: OpcuaUnitConfig,
  pkiDir: string,
  now: Date,
): Promise<RenewedCertificate> {
  const files = clientCertificateFiles(pkiDir);
  const stamp = now
    .toISOString()
    .replaceAll(":", "")
    .replace(/\.\d+Z$/, "Z");
  const backups: string[] = [];
  for (const file of [files.certificate, files.privateKey]) {
    if (!existsSync(file)) continue;
    // Two renewals within a second must not overwrite the first one's backup.
    let backup = file.replace(/\.pem$/, `.${stamp}.pem.bak`);
    for (let n = 1; existsSync(backup); n++) backup = file.replace(/\.pem$/, `.${stamp}-${n}.pem.bak`);
    await rename(file, backup);
    backups.push(backup);
  }
  const key = resolve(pkiDir);
  prepared.delete(key);
  warned.delete(key);
  await prepareClientPki(unit, pkiDir);
  const certificate = await clientCertificate(pkiDir);
  if (certificate === undefined) throw new Error(`no certificate was written to ${files.certificate}`);
  return { certificate, backups };
}
