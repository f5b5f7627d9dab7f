/**
 * A status port that is taken stops the start with a message naming the address, and what had
 * started (the spool) is undone: the same plant then starts on a free port.
 */
import { createServer, type Server } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { isPlantbridgeError } from "../../../lib/errors.ts";
import { type PlantHarness, startPlantHarness } from "../../support/plant-harness.ts";

let harness: PlantHarness | undefined;
let blocker: Server | undefined;

afterAll(async () => {
  await harness?.close();
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
});

describe("status server on a taken port", () => {
  it("refuses to start the plant, naming the address, and leaves nothing half-started", async () => {
    const server = createServer();
    blocker = server;
    const port = await new Promise<number>((resolve) =>
      server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
    );
    harness = await startPlantHarness({ name: "status-port-taken", http: { host: "127.0.0.1", port } });
    let error: unknown;
    try {
      await harness.startPlant();
    } catch (e) {
      error = e;
    }
    expect(isPlantbridgeError(error, "PB_ERR_CONFIG")).toBe(true);
    expect((error as Error).message).toContain(`cannot listen on 127.0.0.1:${port}`);
    expect(harness.running).toBeUndefined();
    // The spool was closed again: the same plant starts once the port is free.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    blocker = undefined;
    const running = await harness.startPlant();
    expect(running.statusUrl).toBe(`http://127.0.0.1:${port}/`);
    expect((await fetch(new URL("/health/live", running.statusUrl))).status).toBe(200);
  });
});
