/**
 * /metrics counts what the simulators served, exactly: requests per unit (answered, refused with an
 * exception, never answered), Modbus exceptions as errors by code, one latency observation per read,
 * and METH's subscription. Counters are compared at a quiet moment: the simulators' counts before
 * and after the scrape are equal, so no request was on the wire while it was taken.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PlantHarness, startPlantHarness, waitFor } from "../../support/plant-harness.ts";
import { getMetrics } from "../../support/status-client.ts";

let harness: PlantHarness;
let base: string;

function served() {
  const p = harness.pemel.served;
  return {
    reads: p.readCount,
    writes: p.registerWriteCount,
    exceptions: p.exceptionCount,
    unanswered: p.unansweredCount,
    subscriptions: harness.meth.served.subscriptions,
    methValueReads: harness.meth.served.valueReads,
  };
}

const pemel = (name: string, labels = "") => `${name}{unit="PEMEL"${labels}}`;

describe("status server: /metrics against what the simulators served", () => {
  beforeAll(async () => {
    harness = await startPlantHarness({ name: "status-metrics", http: { host: "127.0.0.1", port: 0 } });
    base = (await harness.startPlant()).statusUrl ?? "";
  });

  afterAll(async () => {
    await harness?.close();
  });

  it("moves the request, error and latency counters by exactly the requests and exceptions PEMEL served", async () => {
    await waitFor("PEMEL's first reads", () => harness.pemel.served.readCount >= 3, 30_000);
    harness.pemel.setFault({ kind: "exception", code: 4 });
    await waitFor("5 exception replies", () => harness.pemel.served.exceptionCount >= 5, 30_000);
    harness.pemel.clearFault("exception");
    const after = harness.pemel.served.readCount;
    await waitFor("reads answered again", () => harness.pemel.served.readCount >= after + 3, 30_000);

    let compared: { s: ReturnType<typeof served>; m: Map<string, number> } | undefined;
    await waitFor(
      "a scrape at a quiet moment whose counters equal the simulators'",
      async () => {
        const before = served();
        const m = await getMetrics(base);
        const s = served();
        if (JSON.stringify(before) !== JSON.stringify(s)) return false;
        const requests =
          (m.get(pemel("plantbridge_unit_requests_total", ',operation="read"')) ?? -1) +
          (m.get(pemel("plantbridge_unit_requests_total", ',operation="write"')) ?? -1);
        if (requests !== s.reads + s.writes + s.exceptions + s.unanswered) return false;
        compared = { s, m };
        return true;
      },
      30_000,
    );
    const { s, m } = compared ?? { s: served(), m: new Map() };
    expect(s.exceptions).toBeGreaterThanOrEqual(5);
    expect(m.get(pemel("plantbridge_unit_errors_total", ',code="PB_ERR_MODBUS_EXCEPTION"'))).toBe(
      s.exceptions,
    );
    // Only set point writes: none was refused, so every write call was served as one.
    expect(m.get(pemel("plantbridge_unit_requests_total", ',operation="write"'))).toBe(s.writes);
    // One latency observation per read call, each in a bucket.
    const reads = m.get(pemel("plantbridge_unit_requests_total", ',operation="read"'));
    expect(m.get(pemel("plantbridge_unit_read_duration_seconds_count"))).toBe(reads);
    expect(m.get(pemel("plantbridge_unit_read_duration_seconds_bucket", ',le="+Inf"'))).toBe(reads);
    // METH pushes its values: one subscription, no value reads, as the simulator saw.
    expect(m.get('plantbridge_unit_requests_total{unit="METH",operation="subscribe"}')).toBe(s.subscriptions);
    expect(m.get('plantbridge_unit_requests_total{unit="METH",operation="read"}')).toBe(s.methValueReads);
    expect(m.get(pemel("plantbridge_unit_connected"))).toBe(1);
  });

  it("exposes the control loop, storage, spool, forwarder and process figures under Prometheus names", async () => {
    const m = await getMetrics(base);
    const loop = 'loop="pemel_follows_meth_h2_demand"';
    for (const name of ["evaluations", "writes", "fail_safe_activations", "overruns", "write_failures"])
      expect(m.get(`plantbridge_control_${name}_total{${loop}}`), name).toBeGreaterThanOrEqual(0);
    expect(m.get(`plantbridge_control_evaluations_total{${loop}}`)).toBeGreaterThan(0);
    for (const name of [
      "plantbridge_spool_depth",
      "plantbridge_forwarder_rows_total",
      "plantbridge_forwarder_lag_seconds",
    ])
      expect(m.get(`${name}{sink="postgres"}`), name).toBeGreaterThanOrEqual(0);
    for (const name of [
      "plantbridge_spool_bytes",
      "plantbridge_spool_dropped_total",
      "plantbridge_spool_dead_lettered_total",
    ])
      expect(m.get(name), name).toBeGreaterThanOrEqual(0);
    expect(m.get("plantbridge_spool_bytes")).toBeGreaterThan(0);
    expect(m.get("plantbridge_storage_cycles_total")).toBeGreaterThan(0);
    expect(m.get("process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(m.get("process_resident_memory_bytes")).toBeGreaterThan(0);
  });
});
