/**
 * The node-opcua client settings for one unit: security from the plant file, PKI under the
 * plant's var folder, no retries of its own (the connection machine owns backoff), timeouts
 * derived from the unit's timeout and keep-alive.
 */
import { join } from "node:path";
import {
  MessageSecurityMode,
  OPCUACertificateManager,
  type OPCUAClientOptions,
  SecurityPolicy,
  type UserIdentityInfo,
  UserTokenType,
} from "node-opcua";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { OpcuaUnitConfig } from "../../schemas/plant-types.ts";

const securityModes = {
  None: MessageSecurityMode.None,
  Sign: MessageSecurityMode.Sign,
  SignAndEncrypt: MessageSecurityMode.SignAndEncrypt,
} as const;

const securityPolicies = {
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

/** The client's own certificate and trust lists: `<pkiDir>/client`. */
export function clientCertificateManager(pkiDir: string): OPCUACertificateManager {
  return new OPCUACertificateManager({
    rootFolder: join(pkiDir, "client"),
    automaticallyAcceptUnknownCertificate: true,
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
    clientCertificateManager: clientCertificateManager(pkiDir),
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
