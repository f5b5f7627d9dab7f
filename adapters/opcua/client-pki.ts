/**
 * The client's own certificate, made once per PKI folder before the first connect. Creating it
 * (an RSA key and a self-signed certificate) is local work that can take seconds on a busy
 * machine; it must not eat into the unit's connect timeout, which bounds talking to the unit.
 */
import { resolve } from "node:path";
import { OPCUAClient } from "node-opcua";
import type { OpcuaUnitConfig } from "../../schemas/plant-types.ts";
import { clientCertificateManager, opcuaClientOptions } from "./client-options.ts";

const prepared = new Map<string, Promise<void>>();

/**
 * Resolves when `<pkiDir>/client` holds the client's key and certificate (created with the same
 * application name and URI the link's clients use). Shared by every link of the process that
 * uses the same folder; a failure is not cached, the next connect tries again.
 */
export function prepareClientPki(unit: OpcuaUnitConfig, pkiDir: string): Promise<void> {
  const key = resolve(pkiDir);
  const existing = prepared.get(key);
  if (existing !== undefined) return existing;
  const work = (async () => {
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
  })();
  prepared.set(key, work);
  work.catch(() => prepared.delete(key));
  return work;
}
