/**
 * Who may read the status server, and what it never shows: with a token every request without it
 * gets 401 (a bearer header, the page's one-time `?token=` and the session cookie it sets work);
 * nothing the server sends — page, snapshot, health, metrics, trend, machines, event stream —
 * holds the OPC UA password, the historian URL (or its password) or the token; no route writes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pageFiles } from "../../../status/page-files.ts";
import { testDatabaseUrl } from "../../support/pg-schema.ts";
import { type PlantHarness, startPlantHarness, waitFor } from "../../support/plant-harness.ts";
import { openEventStream } from "../../support/status-client.ts";

const token = "status-test-token-7c1e9a2b4d";
const historianPassword = "hist-Pw-5f3a91";
let harness: PlantHarness;
let base: string;
let methPassword: string;
let historianUrl: string;

const bearer = { authorization: `Bearer ${token}` };

describe("status server with a token", () => {
  beforeAll(async () => {
    // The test database trusts local connections: a password in the URL is accepted and never checked.
    const url = new URL(testDatabaseUrl);
    url.password = historianPassword;
    historianUrl = url.toString();
    harness = await startPlantHarness({
      name: "status-security",
      historianUrl,
      http: { host: "127.0.0.1", port: 0, token },
    });
    base = (await harness.startPlant()).statusUrl ?? "";
    const meth = harness.plant.units.find((u) => u.name === "METH");
    methPassword = meth?.protocol === "opcua" ? (meth.password ?? "") : "";
  });

  afterAll(async () => {
    await harness?.close();
  });

  it("answers 401 to every request without the token", async () => {
    for (const path of [
      "/",
      "/health",
      "/health/live",
      "/metrics",
      "/api/snapshot",
      "/api/events",
      "/api/trend",
      "/api/machines",
      "/app.js",
    ]) {
      const res = await fetch(new URL(path, base));
      expect(res.status, path).toBe(401);
      expect(res.headers.get("www-authenticate"), path).toContain("Bearer");
      await res.body?.cancel();
    }
    const wrong = await fetch(new URL("/health", base), {
      headers: { authorization: "Bearer not-the-token-at-all" },
    });
    expect(wrong.status).toBe(401);
    const forged = await fetch(new URL("/health", base), {
      headers: { cookie: `plantbridge_session=${token}` },
    });
    expect(forged.status).toBe(401);
  });

  it("serves a bearer token, and trades the page's ?token= for an HttpOnly session cookie", async () => {
    expect((await fetch(new URL("/health/live", base), { headers: bearer })).status).toBe(200);
    const first = await fetch(new URL(`/?token=${token}`, base), { redirect: "manual" });
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/");
    const cookie = first.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^plantbridge_session=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(cookie).not.toContain(token);
    const session = cookie.split(";")[0] ?? "";
    const page = await fetch(new URL("/", base), { headers: { cookie: session } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>plantbridge");
  });

  it("has no route that writes: POST, PUT and DELETE find nothing", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const res = await fetch(new URL("/api/snapshot", base), { method, headers: bearer });
      expect(res.status, method).toBe(404);
    }
  });

  it("never sends the OPC UA password, the historian URL or the token: page, API, metrics, stream", async () => {
    expect(methPassword.length).toBeGreaterThan(8);
    await waitFor(
      "a value update on the stream",
      async () => (await fetch(new URL("/health", base), { headers: bearer })).status === 200,
      30_000,
    );
    const secrets = [
      methPassword,
      historianPassword,
      historianUrl,
      new URL(historianUrl).host + new URL(historianUrl).pathname,
      token,
    ];
    const bodies: Record<string, string> = {};
    for (const path of [
      ...Object.keys(pageFiles),
      "/health",
      "/health/live",
      "/metrics",
      "/api/snapshot",
      "/api/trend",
      "/api/machines",
    ]) {
      const res = await fetch(new URL(path, base), { headers: bearer });
      expect(res.status, path).toBe(200);
      bodies[path] = await res.text();
    }
    const stream = await openEventStream(new URL("/api/events", base).toString(), bearer);
    try {
      await waitFor(
        "hello, a value update and a state change",
        () => {
          const kinds = new Set(stream.events.map((e) => e.event));
          return kinds.has("hello") && kinds.has("values") && kinds.has("state");
        },
        30_000,
      );
      bodies["/api/events"] = stream.text();
    } finally {
      stream.close();
    }
    for (const [path, body] of Object.entries(bodies))
      for (const secret of secrets) expect(body.includes(secret), `${path} holds a secret`).toBe(false);
    // The snapshot does show the plant: units with their addresses, tags and loops.
    expect(bodies["/api/snapshot"]).toContain('"name":"METH"');
    expect(bodies["/api/snapshot"]).toContain("opc.tcp://127.0.0.1:");
  });
});
