/**
 * A plain OPC UA session with a unit's settings (endpoint, security, identity, PKI, timeouts), for
 * the commissioning commands that need more than the UnitLink offers (browsing the address space).
 * The same client options, trust rules and error words as the link; one attempt, bounded by the
 * unit's timeout; no subscriptions, no watchdog: it lives for one command.
 */
import { type ClientSession, OPCUAClient } from "node-opcua-client";
import { withDeadline } from "../../lib/deadline.ts";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { OpcuaUnitConfig } from "../../schemas/plant-types.ts";
import { checkSecurity, opcuaClientOptions, userIdentity } from "./client-options.ts";
import { prepareClientPki } from "./client-pki.ts";
import { untrustedServerError } from "./server-trust.ts";
import { connectError } from "./status.ts";

export interface UnitSession {
  readonly session: ClientSession;
  /** The server's namespace array (index = namespace index). */
  readonly namespaceArray: readonly string[];
  close(): Promise<void>;
}

export async function openUnitSession(unit: OpcuaUnitConfig, pkiDir: string, log: Log): Promise<UnitSession> {
  checkSecurity(unit);
  const origin = { unit: unit.name };
  await prepareClientPki(unit, pkiDir, log);
  const client = OPCUAClient.create(opcuaClientOptions(unit, pkiDir));
  let session: ClientSession | undefined;
  const bounded = <T>(work: Promise<T>, what: string) =>
    withDeadline(work, unit.timeoutMs, () => new Error(`${what} timed out`));
  const disconnect = async () => {
    if (session !== undefined) await bounded(session.close(true), "CloseSession").catch(() => undefined);
    await bounded(client.disconnect(), "disconnect").catch((e: unknown) =>
      log.debug({ err: errorMessage(e) }, "disconnecting the OPC UA client failed"),
    );
  };
  try {
    const namespaceArray = await withDeadline(
      (async () => {
        await client.connect(unit.endpoint);
        session = await client.createSession(userIdentity(unit));
        return session.readNamespaceArray();
      })(),
      unit.timeoutMs,
      () =>
        new PlantbridgeError(
          ErrorCode.OPCUA_TIMEOUT,
          `no answer from ${unit.endpoint} within ${unit.timeoutMs} ms`,
          origin,
        ),
    );
    const opened = session;
    if (opened === undefined) throw new Error("no session after connect");
    return { session: opened, namespaceArray, close: disconnect };
  } catch (e) {
    await disconnect();
    throw untrustedServerError(unit, pkiDir, e) ?? connectError(e, origin, unit.password);
  }
}
