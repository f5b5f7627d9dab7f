import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  MessageSecurityMode,
  OPCUACertificateManager,
  type OPCUAServerOptions,
  SecurityPolicy,
} from "node-opcua";

export interface MethServerSettings {
  host: string;
  port: number;
  /** Server and user PKI folders go under here (`<pkiDir>/server`, `<pkiDir>/user`). */
  pkiDir: string;
  username?: string;
  password?: string;
  allowAnonymous: boolean;
}

/** The METH server's options: loopback, its own PKI, every security mode, username/password users. */
export function methServerOptions(o: MethServerSettings): OPCUAServerOptions {
  const serverPki = join(o.pkiDir, "server");
  const userPki = join(o.pkiDir, "user");
  mkdirSync(serverPki, { recursive: true });
  mkdirSync(userPki, { recursive: true });
  return {
    host: o.host,
    port: o.port,
    hostname: "127.0.0.1",
    alternateHostname: ["127.0.0.1"],
    serverCertificateManager: new OPCUACertificateManager({
      rootFolder: serverPki,
      automaticallyAcceptUnknownCertificate: true,
    }),
    userCertificateManager: new OPCUACertificateManager({
      rootFolder: userPki,
      automaticallyAcceptUnknownCertificate: true,
    }),
    securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
    securityPolicies: [
      SecurityPolicy.None,
      SecurityPolicy.Basic256Sha256,
      SecurityPolicy.Aes128_Sha256_RsaOaep,
      SecurityPolicy.Aes256_Sha256_RsaPss,
    ],
    allowAnonymous: o.allowAnonymous,
    ...(o.username !== undefined
      ? {
          userManager: {
            isValidUser: (username: string, password: string) =>
              username === o.username && password === o.password,
          },
        }
      : {}),
    serverCapabilities: {
      maxSessions: 50,
      // 0: an item asking for sampling interval 0 on a variable served on change (MinimumSamplingInterval
      // 0, the H2 demand) gets every change as it happens, not coalesced into windows.
      // Every other variable is sampled, at MonitoredItem.minimumSamplingInterval at the fastest.
      minSupportedSampleRate: 0,
    },
    maxConnectionsPerEndpoint: 50,
    isAuditing: false,
    serverInfo: {
      applicationUri: "urn:plantbridge:sim:meth:server",
      productUri: "urn:plantbridge:sim:meth",
      applicationName: { text: "plantbridge METH simulator" },
    },
    buildInfo: { productName: "plantbridge METH simulator", manufacturerName: "plantbridge" },
  };
}
