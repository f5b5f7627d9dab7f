/**
 * Trust between the OPC UA client and the METH simulator: with Sign/SignAndEncrypt an unknown server
 * certificate is refused (naming `plantbridge trust`) until it is trusted; security None is not
 * affected; the client's own certificate warns 30 days before it expires and is renewed with backups.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { OPCUACertificateManager } from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeCertificate } from "../../../adapters/opcua/certificate-info.ts";
import {
  clientCertificate,
  clientCertificateFiles,
  prepareClientPki,
  renewClientCertificate,
} from "../../../adapters/opcua/client-pki.ts";
import { createOpcuaLink } from "../../../adapters/opcua/opcua-link.ts";
import {
  fetchServerCertificate,
  trustServerCertificate,
} from "../../../adapters/opcua/server-certificate.ts";
import { serverCertificateTrust } from "../../../adapters/opcua/server-trust.ts";
import type { UnitLink } from "../../../adapters/types.ts";
import { ErrorCode, isPlantbridgeError, type PlantbridgeError } from "../../../lib/errors.ts";
import type { OpcuaUnitConfig } from "../../../schemas/plant-types.ts";
import { type MethSimulator, startMethSimulator } from "../../../simulators/meth/index.ts";
import { METH_PASSWORD, METH_USER, memoryLog, methUnit, runFolder } from "./meth-fixture.ts";

const run = runFolder("opcua-trust");
let sim: MethSimulator;
let serverSha256: string;

const signed = (extra: Partial<OpcuaUnitConfig> = {}): OpcuaUnitConfig =>
  methUnit(sim.endpoint, {
    securityMode: "SignAndEncrypt",
    securityPolicy: "Basic256Sha256",
    timeoutMs: 10_000,
    position: { file: "config/meth.yaml", line: 1, column: 1 },
    ...extra,
  });

async function connectError(link: UnitLink): Promise<PlantbridgeError> {
  try {
    await link.connect();
  } catch (e) {
    if (isPlantbridgeError(e)) return e;
    throw e;
  } finally {
    await link.close();
  }
  throw new Error("the link connected");
}

beforeAll(async () => {
  const simPki = join(run.dir, "sim-pki");
  sim = await startMethSimulator({ pkiDir: simPki, username: METH_USER, password: METH_PASSWORD, tickMs: 0 });
  sim.step(1_000);
  serverSha256 = describeCertificate(
    readFileSync(join(simPki, "server", "own", "certs", "certificate.pem")),
  ).sha256;
});

afterAll(async () => {
  await sim?.stop();
  run.remove();
});

describe("the server's certificate", () => {
  it("is refused with SignAndEncrypt until it is trusted, and the error names plantbridge trust", async () => {
    const pkiDir = join(run.dir, "pki-refused");
    const memory = memoryLog();
    const e = await connectError(createOpcuaLink(signed(), { log: memory.log, pkiDir }));
    expect(e.code).toBe(ErrorCode.OPCUA_UNTRUSTED_SERVER);
    expect(e.describe()).toMatch(
      /^METH: the server's certificate is not trusted \(BadCertificateUntrusted\)/,
    );
    expect(e.message).toContain(`plantbridge trust config/meth.yaml METH --var ${run.dir}`);

    const server = await fetchServerCertificate(signed(), pkiDir);
    const leaf = server.chain[0] as Buffer;
    expect(describeCertificate(leaf).sha256).toBe(serverSha256);
    expect(server.matchesUnit).toBe(true);
    expect(server.offered).toContainEqual({
      securityMode: "SignAndEncrypt",
      securityPolicy: "Basic256Sha256",
    });
    // The refused connect left it in rejected/, never in the trust list.
    expect(await serverCertificateTrust(pkiDir, leaf)).toBe("rejected");

    await trustServerCertificate(pkiDir, server.chain);
    expect(await serverCertificateTrust(pkiDir, leaf)).toBe("trusted");
    const link = createOpcuaLink(signed(), { log: memory.log, pkiDir });
    try {
      await link.connect();
      expect((await link.read(["real_pressure"])).get("real_pressure")?.quality).toBe("good");
    } finally {
      await link.close();
    }
  });

  it("is not checked with security None: an empty trust list connects", async () => {
    const pkiDir = join(run.dir, "pki-none");
    const link = createOpcuaLink(methUnit(sim.endpoint), { log: memoryLog().log, pkiDir });
    try {
      await link.connect();
      expect((await link.read(["real_pressure"])).get("real_pressure")?.quality).toBe("good");
    } finally {
      await link.close();
    }
  });
});

describe("the client's own certificate", () => {
  it("is warned about at connect when it expires within 30 days", async () => {
    const pkiDir = join(run.dir, "pki-expiring");
    const manager = new OPCUACertificateManager({ rootFolder: join(pkiDir, "client") });
    await manager.initialize();
    try {
      await manager.createSelfSignedCertificate({
        applicationUri: "urn:test:plantbridge",
        subject: "/CN=plantbridge",
        dns: [],
        startDate: new Date(),
        validity: 12,
        outputFile: clientCertificateFiles(pkiDir).certificate,
      });
    } finally {
      await manager.dispose();
    }
    const memory = memoryLog();
    const link = createOpcuaLink(
      methUnit(sim.endpoint, { position: { file: "p.yaml", line: 1, column: 1 } }),
      {
        log: memory.log,
        pkiDir,
      },
    );
    try {
      await link.connect();
    } finally {
      await link.close();
    }
    const warning = memory.lines.find((l) => l.level === 40 && /client certificate expires in/.test(l.msg));
    expect(warning?.msg).toMatch(/expires in 1[01] days .*plantbridge pki renew p\.yaml METH/);
  });

  it("is renewed with a new key pair, the old certificate and key kept as backups", async () => {
    const pkiDir = join(run.dir, "pki-renew");
    const unit = methUnit(sim.endpoint);
    await prepareClientPki(unit, pkiDir);
    const files = clientCertificateFiles(pkiDir);
    const before = await clientCertificate(pkiDir);
    const keyBefore = readFileSync(files.privateKey, "utf8");
    const renewed = await renewClientCertificate(unit, pkiDir, new Date("2031-02-03T04:05:06.789Z"));
    expect(renewed.backups).toEqual([
      files.certificate.replace(/\.pem$/, ".2031-02-03T040506Z.pem.bak"),
      files.privateKey.replace(/\.pem$/, ".2031-02-03T040506Z.pem.bak"),
    ]);
    expect(describeCertificate(readFileSync(renewed.backups[0] as string)).sha256).toBe(before?.sha256);
    expect(readFileSync(renewed.backups[1] as string, "utf8")).toBe(keyBefore);
    expect(renewed.certificate.sha256).not.toBe(before?.sha256);
    expect(readFileSync(files.privateKey, "utf8")).not.toBe(keyBefore);
    // A second renewal in the same second keeps both backups.
    const again = await renewClientCertificate(unit, pkiDir, new Date("2031-02-03T04:05:06.999Z"));
    expect(again.backups[0]).toBe(files.certificate.replace(/\.pem$/, ".2031-02-03T040506Z-1.pem.bak"));
    expect(describeCertificate(readFileSync(again.backups[0] as string)).sha256).toBe(
      renewed.certificate.sha256,
    );
    // The renewed certificate works.
    const link = createOpcuaLink(unit, { log: memoryLog().log, pkiDir });
    try {
      await link.connect();
    } finally {
      await link.close();
    }
  });
});
