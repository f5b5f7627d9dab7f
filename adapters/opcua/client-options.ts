/**
 * The node-opcua client settings for one unit: security from the plant file, PKI under the
 * plant's var folder, no retries of its own (the connection machine owns backoff), timeouts
 * derived from the unit's timeout and keep-alive. With Sign or SignAndEncrypt the server's
 * certificate must be in the client's trust list (server-trust.ts); with None it is not checked.
 */
import { OPCUACertificateManager } from "node-opcua-certificate-manager";
import {
  MessageSecurityMode,
  type OPCUAClientOptions,
  SecurityPolicy,
  type UserIdentityInfo,
  UserTokenType,
} from "node-opcua-client";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { OpcuaUnitConfig } from "../../schemas/plant-types.ts";
import { acceptsUnknownServerCertificate, clientPkiFolder } from "./server-trust.ts";

export const securityModes = {
  None: MessageSecurityMode.None,
  Sign: MessageSecurityMode.Sign,
  SignAndEncrypt: MessageSecurityMode.SignAndEncrypt,
} as const;

export const securityPolicies = {
  None: SecurityPolicy.None,
  Basic256Sha256: SecurityPolicy.Basic256Sha256,
  Aes128_Sha256_RsaOaep: SecurityPolicy.Aes128_Sha256_RsaOaep,
  Aes256_Sha256_RsaPss: SecurityPolicy.Aes256_Sha256_RsaPss,
} as const;

/** Security mode and policy must agree: None with None, Sign/SignAndEncrypt with a real policy. */
export function checkSecurity(unit: OpcuaUnitConfig): void {
  const noneMode = unit.securityMode === "None";
  const nonePolicy = unit.securityPolicy === "None";
  if (noneMode !== nonePolicy) {
    throw new PlantbridgeError(
      ErrorCode.CONFIG,
      `security mode ${unit.securityMode} does not go with security policy ${unit.securityPolicy}` +
        " (None needs None; Sign and SignAndEncrypt need a policy such as Basic256Sha256)",
      {
        unit: unit.name,
        ...(unit.position ? { ...unit.position, keyPath: `units.${unit.name}.securityPolicy` } : {}),
      },
    );
  }
  if ((unit.username === undefined) !== (unit.password === undefined)) {
    throw new PlantbridgeError(ErrorCode.CONFIG, "username and password go together: give both or neither", {
      unit: unit.name,
    });
  }
}

/**
 * The client's own certificate and trust lists: `<pkiDir>/client`. `acceptUnknown` puts a server
 * certificate seen for the first time straight into the trust list (security None, where it is not
 * checked anyway); otherwise it goes to `rejected/` and the connect fails until it is trusted.
 */
export function clientCertificateManager(pkiDir: string, acceptUnknown = false): OPCUACertificateManager {
  return new OPCUACertificateManager({
    rootFolder: clientPkiFolder(pkiDir),
    automaticallyAcceptUnknownCertificate: acceptUnknown,
  });
}

/** Session timeout the server keeps a silent session for: ten keep-alives, at least 30 s. */
export function sessionTimeoutMs(unit: OpcuaUnitConfig): number {
  return Math.max(30_000, unit.keepAliveMs * 10);
}

export function opcuaClientOptions(unit: OpcuaUnitConfig, pkiDir: string): OPCUAClientOptions {
  return {
    applicationName: "plantbridge",
    clientName: `plantbridge-${unit.name}`,
    // One attempt only: a failed connect rejects, a broken channel is reported, never repaired here.
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 1_000 },
    endpointMustExist: false,
    keepSessionAlive: true,
    keepAliveInterval: unit.keepAliveMs,
    requestedSessionTimeout: sessionTimeoutMs(unit),
    securityMode: securityModes[unit.securityMode],
    securityPolicy: securityPolicies[unit.securityPolicy],
    clientCertificateManager: clientCertificateManager(pkiDir, acceptsUnknownServerCertificate(unit)),
    transportSettings: { receiveBufferSize: 65536, sendBufferSize: 65536 },
    defaultSecureTokenLifetime: 600_000,
    defaultTransactionTimeout: unit.timeoutMs,
    // A socket silent for this long is dead; keep-alive reads keep a healthy one busy.
    transportTimeout: Math.max(5_000, 2 * unit.keepAliveMs + unit.timeoutMs),
  };
}

export function userIdentity(unit: OpcuaUnitConfig): UserIdentityInfo {
  if (unit.username !== undefined && unit.password !== undefined) {
    return { type: UserTokenType.UserName, userName: unit.username, password: unit.password };
  }
  return { type: UserTokenType.Anonymous };
}
