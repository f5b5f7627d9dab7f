/**
 * `plantbridge trust` and `plantbridge pki` through the real CLI, against the METH simulator with
 * SignAndEncrypt: an unknown server certificate is refused with an error that names the trust
 * command; trust shows the certificate and, with --yes, trusts it; then the unit connects. The
 * client's own certificate is shown and renewed, the old one kept.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeCertificate } from "../../adapters/opcua/certificate-info.ts";
import { type Bench, plantFile, startBench } from "./commissioning-kit.ts";

let bench: Bench;
let server: ReturnType<typeof describeCertificate>;

beforeAll(async () => {
  bench = await startBench("commissioning-trust", { security: "SignAndEncrypt", policy: "Basic256Sha256" });
  server = describeCertificate(
    readFileSync(join(bench.varDir, "meth-pki", "server", "own", "certs", "certificate.pem")),
  );
}, 60_000);

afterAll(async () => {
  await bench?.stop();
});

describe("plantbridge trust", () => {
  it("is what a SignAndEncrypt unit needs first: the refusal names it, trust shows and trusts the certificate", async () => {
    const refused = await bench.cli("read", ["METH.h2_demand"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `METH: the server's certificate is not trusted (BadCertificateUntrusted): check it and trust it with: plantbridge trust ${plantFile} METH --var ${bench.varDir}`,
    );

    // No terminal and no --yes: the certificate is shown, nothing is trusted.
    const shown = await bench.cli("trust", ["METH"]);
    expect(shown.code).toBe(2);
    expect(shown.stdout).toContain(`SHA-256:          ${server.sha256}`);
    expect(shown.stdout).toContain(`SHA-1:            ${server.sha1}`);
    expect(shown.stdout).toContain("application URI:  urn:plantbridge:sim:meth:server");
    expect(shown.stdout).toMatch(/subject: {10}.*CN=plantbridge METH simulator/);
    expect(shown.stdout).toMatch(/valid: {12}\S+ to \S+ \(valid, \d+ days left\)/);
    expect(shown.stdout).toContain("trust list: not trusted: a refused connect put it in the rejected list");
    expect((await bench.cli("read", ["METH.h2_demand"])).code).toBe(1);

    const trusted = await bench.cli("trust", ["METH", "--yes"]);
    expect(trusted.code, trusted.stderr).toBe(0);
    expect(trusted.stdout).toContain(
      "METH: trusted; the link will now connect with SignAndEncrypt/Basic256Sha256",
    );
    expect(trusted.stdout).toMatch(
      /the server must trust this client too: give its operator .*client_certificate\.pem/,
    );

    const read = await bench.cli("read", ["METH.h2_demand"]);
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toMatch(/^METH\.h2_demand\s+\d/m);

    const again = await bench.cli("trust", ["METH"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("trust list: already in the trust list");
  });

  it("security None does not check the server's certificate (another var folder, empty trust list)", async () => {
    const { runCli } = await import("./run-cli.ts");
    const varDir = join(bench.varDir, "none");
    const r = await runCli(["read", plantFile, "METH.h2_demand", "--var", varDir], {
      env: { ...bench.env, PB_SIM_METH_SECURITY: "None", PB_SIM_METH_POLICY: "None" },
    });
    expect(r.code, r.stderr).toBe(0);
  });
});

describe("plantbridge pki", () => {
  it("shows the client's certificate and renews it, keeping the old one", async () => {
    const pki = async (action: string, ...args: string[]) => {
      const { runCli } = await import("./run-cli.ts");
      return runCli(["pki", action, plantFile, ...args, "--var", bench.varDir], { env: bench.env });
    };
    // a certificate exists once any OPC UA command ran; make sure of it when this test runs alone
    expect((await pki("renew", "--yes")).code).toBe(0);
    const shown = await pki("show");
    expect(shown.code, shown.stderr).toBe(0);
    const before = /SHA-256: {10}(\S+)/.exec(shown.stdout)?.[1];
    expect(before).toMatch(/^[0-9A-F:]{95}$/);

    const renewed = await pki("renew", "--yes");
    expect(renewed.code, renewed.stderr).toBe(0);
    const kept = [...renewed.stdout.matchAll(/kept: (\S+)/g)].map((m) => m[1] as string);
    expect(kept).toHaveLength(2);
    for (const file of kept) expect(existsSync(file)).toBe(true);
    expect(describeCertificate(readFileSync(kept[0] as string)).sha256).toBe(before);
    const after = [...renewed.stdout.matchAll(/SHA-256: {10}(\S+)/g)].map((m) => m[1]).at(-1);
    expect(after).not.toBe(before);
    // the renewed client still connects (the simulator accepts any client certificate)
    expect((await bench.cli("read", ["METH.h2_demand"])).code).toBe(0);
  });
});
