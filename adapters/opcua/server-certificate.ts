/**
 * The certificate an OPC UA server presents, fetched the way every client does before a secure
 * connection: GetEndpoints over an unsecured channel (the discovery service needs no security).
 * And the step a person takes after checking it: putting it into the client's trust list.
 */
import { MessageSecurityMode, OPCUAClient } from "node-opcua-client";
import { withDeadline } from "../../lib/deadline.ts";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { OpcuaUnitConfig } from "../../schemas/plant-types.ts";
import { splitCertificateChain } from "./certificate-info.ts";
import {
  clientCertificateManager,
  opcuaClientOptions,
  securityModes,
  securityPolicies,
} from "./client-options.ts";
import { prepareClientPki } from "./client-pki.ts";
import { connectError } from "./status.ts";

export interface OfferedEndpoint {
  securityMode: string;
  /** The policy's short name (`Basic256Sha256`), from its URI. */
  securityPolicy: string;
}

export interface ServerCertificate {
  /** The certificate chain, leaf (the server's own certificate) first. */
  chain: Buffer[];
  /** The endpoint it was taken from. */
  endpointUrl: string;
  /** True when that endpoint has the unit's security mode and policy. */
  matchesUnit: boolean;
  /** Every security mode and policy the server offers. */
  offered: OfferedEndpoint[];
}

function policyName(uri: string | null): string {
  return (uri ?? "").split("#").pop() ?? "";
}

/** GetEndpoints over a channel with security None; the certificate of the endpoint the unit would use. */
export async function fetchServerCertificate(
  unit: OpcuaUnitConfig,
  pkiDir: string,
): Promise<ServerCertificate> {
  const origin = { unit: unit.name };
  await prepareClientPki(unit, pkiDir);
  const client = OPCUAClient.create({
    ...opcuaClientOptions(unit, pkiDir),
    securityMode: MessageSecurityMode.None,
    securityPolicy: securityPolicies.None,
  });
  const work = (async () => {
    await client.connect(unit.endpoint);
    return client.getEndpoints();
  })();
  let endpoints: Awaited<typeof work>;
  try {
    endpoints = await withDeadline(
      work,
      unit.timeoutMs,
      () =>
        new PlantbridgeError(
          ErrorCode.OPCUA_TIMEOUT,
          `GetEndpoints: no answer from ${unit.endpoint} within ${unit.timeoutMs} ms`,
          origin,
        ),
    );
  } catch (e) {
    throw connectError(e, origin, unit.password);
  } finally {
    await withDeadline(client.disconnect(), unit.timeoutMs, () => new Error("disconnect timed out")).catch(
      () => undefined,
    );
  }
  const withCertificate = endpoints.filter((e) => e.serverCertificate && e.serverCertificate.length > 0);
  const wanted = withCertificate.find(
    (e) =>
      e.securityMode === securityModes[unit.securityMode] &&
      e.securityPolicyUri === securityPolicies[unit.securityPolicy],
  );
  const chosen = wanted ?? withCertificate.find((e) => e.securityMode !== MessageSecurityMode.None);
  const chosenOrAny = chosen ?? withCertificate[0];
  if (chosenOrAny === undefined) {
    throw new PlantbridgeError(
      ErrorCode.OPCUA_CONNECT,
      `the server at ${unit.endpoint} presents no certificate on any endpoint`,
      origin,
    );
  }
  return {
    chain: splitCertificateChain(Buffer.from(chosenOrAny.serverCertificate)),
    endpointUrl: chosenOrAny.endpointUrl ?? unit.endpoint,
    matchesUnit: wanted !== undefined,
    offered: endpoints.map((e) => ({
      securityMode: MessageSecurityMode[e.securityMode] ?? String(e.securityMode),
      securityPolicy: policyName(e.securityPolicyUri),
    })),
  };
}

/**
 * Puts the server's certificate into `<pkiDir>/client/trusted/certs/` (out of `rejected/` if a
 * refused connect had put it there). A CA-issued certificate's issuers go to the issuers list.
 */
export async function trustServerCertificate(pkiDir: string, chain: readonly Buffer[]): Promise<void> {
  const [leaf, ...issuers] = chain;
  if (leaf === undefined) throw new Error("no certificate to trust");
  const manager = clientCertificateManager(pkiDir);
  await manager.initialize();
  try {
    for (const issuer of issuers) await manager.addIssuer(issuer, false, true);
    await manager.trustCertificate(leaf);
  } finally {
    await manager.dispose();
  }
}
