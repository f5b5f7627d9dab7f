import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  certificateLines,
  daysLeft,
  describeCertificate,
  splitCertificateChain,
} from "../../../adapters/opcua/certificate-info.ts";
import {
  acceptsUnknownServerCertificate,
  trustCommand,
  untrustedServerError,
} from "../../../adapters/opcua/server-trust.ts";
import { ErrorCode } from "../../../lib/errors.ts";
import { repoRoot } from "../../e2e/run-cli.ts";

/** test/fixtures/pki/server-certificate.pem: self-signed, made with openssl for these tests (no key kept). */
function pemToDer(pem: string): Buffer {
  const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  return Buffer.from(body, "base64");
}

const unit = { name: "METH", position: { file: "config/plant.yaml", line: 80, column: 3 } };

describe("server trust rules", () => {
  it("leaves security None unchecked and checks Sign and SignAndEncrypt", () => {
    expect(acceptsUnknownServerCertificate({ securityMode: "None" })).toBe(true);
    expect(acceptsUnknownServerCertificate({ securityMode: "Sign" })).toBe(false);
    expect(acceptsUnknownServerCertificate({ securityMode: "SignAndEncrypt" })).toBe(false);
  });

  it("turns node-opcua's refusal into a coded error that names the trust command", () => {
    const refusal = new Error(
      "server Certificate verification failed with err BadCertificateUntrusted (0x801a0000)",
    );
    const e = untrustedServerError(unit, join(process.cwd(), "var", "pki"), refusal);
    expect(e?.code).toBe(ErrorCode.OPCUA_UNTRUSTED_SERVER);
    expect(e?.describe()).toBe(
      "METH: the server's certificate is not trusted (BadCertificateUntrusted): check it and trust it with: plantbridge trust config/plant.yaml METH",
    );
    const expired = new Error(
      "server Certificate verification failed with err BadCertificateTimeInvalid (0x80140000)",
    );
    expect(untrustedServerError(unit, "/var/lib/plantbridge/pki", expired)?.message).toMatch(
      /outside its validity period .*plantbridge trust config\/plant\.yaml METH --var \/var\/lib\/plantbridge/,
    );
    expect(untrustedServerError(unit, "var/pki", new Error("connect ECONNREFUSED"))).toBeUndefined();
  });

  it("quotes a plant file path with spaces for the shell", () => {
    expect(
      trustCommand(
        { name: "METH", position: { file: "/opt/my plant/p.yaml", line: 1, column: 1 } },
        "var/pki",
      ),
    ).toBe("plantbridge trust '/opt/my plant/p.yaml' METH");
  });
});

describe("certificate info", () => {
  it("splits a DER chain into its certificates and reads each", () => {
    const pem = readFileSync(join(repoRoot, "test", "fixtures", "pki", "server-certificate.pem"), "utf8");
    const der = pemToDer(pem);
    const chain = splitCertificateChain(Buffer.concat([der, der]));
    expect(chain).toHaveLength(2);
    expect(chain[0]?.equals(der)).toBe(true);
    const info = describeCertificate(der);
    const x = new X509Certificate(der);
    expect(info.sha1).toBe(x.fingerprint);
    expect(info.sha256).toBe(x.fingerprint256);
    expect(info.applicationUri).toBe("urn:plantbridge:test:server");
    expect(info.selfSigned).toBe(true);
    expect(daysLeft(info, info.validTo.getTime() - 3 * 86_400_000)).toBe(3);
    expect(certificateLines(info, info.validTo.getTime() + 86_400_000).join("\n")).toMatch(
      /EXPIRED 1 days ago/,
    );
    expect(() => splitCertificateChain(Buffer.from([0x30, 0x82, 0xff]))).toThrow(
      /not a DER certificate chain/,
    );
  });
});
