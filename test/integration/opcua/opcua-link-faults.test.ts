/**
 * The OPC UA link when METH misbehaves: dropped connections, restarts, a server that stops
 * answering, a port that never speaks OPC UA. node-opcua must never retry on its own.
 */
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createOpcuaLink } from "../../../adapters/opcua/opcua-link.ts";
import type { Reading, UnitLink } from "../../../adapters/types.ts";
import { ErrorCode, isPlantbridgeError, type PlantbridgeError } from "../../../lib/errors.ts";
import type { Log } from "../../../lib/log.ts";
import type { OpcuaUnitConfig } from "../../../schemas/plant-types.ts";
import { type MethSimulator, startMethSimulator } from "../../../simulators/meth/index.ts";
import {
  METH_PASSWORD,
  METH_USER,
  memoryLog,
  methUnit,
  recordPushes,
  runFolder,
  waitFor,
} from "./meth-fixture.ts";

const run = runFolder("opcua-faults");
const pkiDir = join(run.dir, "pki");
let sim: MethSimulator;
const links: UnitLink[] = [];

/** Longer than node-opcua's own reconnection delay (1 s): if it were retrying, it would have by then. */
const QUIET_PERIOD_MS = 1_500;

function link(log: Log, overrides: Partial<OpcuaUnitConfig> = {}): UnitLink {
  const l = createOpcuaLink(methUnit(sim.endpoint, { timeoutMs: 1_000, keepAliveMs: 500, ...overrides }), {
    log,
    pkiDir,
  });
  links.push(l);
  return l;
}

function lostRecorder(l: UnitLink): PlantbridgeError[] {
  const seen: PlantbridgeError[] = [];
  l.onLost((e) => seen.push(e));
  return seen;
}

async function rejection(p: Promise<unknown>): Promise<PlantbridgeError> {
  try {
    await p;
  } catch (e) {
    if (isPlantbridgeError(e)) return e;
    throw e;
  }
  throw new Error("expected a rejection");
}

function reconnectLines(lines: { msg: string }[]): string[] {
  return lines.map((l) => l.msg).filter((m) => m.includes("tried to reconnect"));
}

const quiet = () => new Promise((r) => setTimeout(r, QUIET_PERIOD_MS));

beforeAll(async () => {
  sim = await startMethSimulator({
    pkiDir: join(run.dir, "sim-pki"),
    username: METH_USER,
    password: METH_PASSWORD,
    tickMs: 20,
  });
});

afterEach(async () => {
  sim.clearFaults();
  await Promise.all(links.splice(0).map((l) => l.close()));
});

afterAll(async () => {
  await sim?.stop();
  run.remove();
});

describe("OPC UA link faults", () => {
  it("drop-connections: lost fires once, and node-opcua does not reconnect by itself", async () => {
    const memory = memoryLog();
    const l = link(memory.log);
    const lost = lostRecorder(l);
    await l.connect();
    const readings: Reading[] = [];
    await l.subscribe!(["real_h2_flowrate"], recordPushes((_t, r) => readings.push(r)).listener);
    await waitFor(() => readings.length > 0, 5_000, "first reading");
    sim.setFault({ kind: "drop-connections" });
    await waitFor(() => lost.length > 0, 5_000, "lost");
    expect([ErrorCode.LINK_LOST, ErrorCode.OPCUA_TIMEOUT]).toContain(lost[0]?.code);
    expect(lost[0]?.origin.unit).toBe("METH");
    const channels = sim.served.channels;
    await quiet();
    expect(lost).toHaveLength(1);
    expect(sim.served.channels).toBe(channels);
    expect(reconnectLines(memory.lines)).toEqual([]);
    expect((await rejection(l.read(["real_pressure"]))).code).toBe(ErrorCode.LINK_LOST);
    // the connection machine's way back: close, connect again
    await l.close();
    await l.connect();
    const r = await l.read(["real_pressure"]);
    expect(r.get("real_pressure")?.quality).toBe("good");
    expect(lost).toHaveLength(1);
  });

  it("close-sessions: lost fires and node-opcua's own session repair does not create a new session", async () => {
    const memory = memoryLog();
    const l = link(memory.log, { keepAliveMs: 200 });
    const lost = lostRecorder(l);
    await l.connect();
    const created = sim.served.sessionsCreated;
    sim.setFault({ kind: "close-sessions" });
    await waitFor(() => lost.length > 0, 5_000, "lost");
    expect(lost[0]?.code).toBe(ErrorCode.LINK_LOST);
    await quiet();
    expect(lost).toHaveLength(1);
    expect(sim.served.sessionsCreated).toBe(created);
    expect(sim.sessions()).toBe(0);
    expect(memory.lines.map((x) => x.msg)).not.toContain("node-opcua repaired the session by itself");
    await l.close();
    await l.connect();
    expect((await l.read(["real_pressure"])).get("real_pressure")?.quality).toBe("good");
  });

  it("restart: lost fires, a new connect works and a new subscription receives values", async () => {
    const l = link(memoryLog().log);
    const lost = lostRecorder(l);
    await l.connect();
    const port = sim.port;
    const sessionsBefore = sim.served.sessionsCreated;
    await sim.restart();
    expect(sim.port).toBe(port);
    await waitFor(() => lost.length > 0, 5_000, "lost after restart");
    await l.close();
    await l.connect();
    expect(sim.served.sessionsCreated).toBeGreaterThan(sessionsBefore);
    sim.setDemand(9.5);
    const readings: Reading[] = [];
    const subscription = await l.subscribe!(
      ["real_h2_flowrate"],
      recordPushes((_t, r) => readings.push(r)).listener,
    );
    await waitFor(() => readings.some((r) => r.value === 9.5), 5_000, "value on the new subscription");
    await subscription.close();
    expect(lost).toHaveLength(1);
  });

  it("stop-answering: a read rejects with PB_ERR_OPCUA_TIMEOUT and lost fires; connect rejects with a timeout too", async () => {
    const l = link(memoryLog().log, { keepAliveMs: 60_000 }); // the read, not the keep-alive, must notice
    const lost = lostRecorder(l);
    await l.connect();
    sim.setFault({ kind: "stop-answering" });
    const e = await rejection(l.read(["real_pressure"]));
    expect(e.code).toBe(ErrorCode.OPCUA_TIMEOUT);
    await waitFor(() => lost.length > 0, 5_000, "lost");
    expect(lost).toHaveLength(1);
    await l.close(); // bounded although the server is silent

    const fresh = link(memoryLog().log);
    expect((await rejection(fresh.connect())).code).toBe(ErrorCode.OPCUA_TIMEOUT);
    sim.clearFaults();
    await fresh.connect();
    expect((await fresh.read(["real_pressure"])).get("real_pressure")?.quality).toBe("good");
  });

  it("stop-answering: an idle link notices through the session keep-alive", async () => {
    const l = link(memoryLog().log, { keepAliveMs: 300, timeoutMs: 500 });
    const lost = lostRecorder(l);
    await l.connect();
    sim.setFault({ kind: "stop-answering" });
    await waitFor(() => lost.length > 0, 10_000, "lost through keep-alive");
    expect([ErrorCode.OPCUA_TIMEOUT, ErrorCode.LINK_LOST]).toContain(lost[0]?.code);
  });

  it("close() leaves nothing behind: no lost, no reconnect attempt, no session on the server", async () => {
    const memory = memoryLog();
    const l = link(memory.log);
    const lost = lostRecorder(l);
    await l.connect();
    await l.subscribe!(["real_h2_flowrate"], recordPushes().listener);
    await waitFor(() => sim.sessions() === 1, 5_000, "one session");
    await l.close();
    await l.close(); // idempotent
    expect(sim.sessions()).toBe(0);
    const channels = sim.served.channels;
    sim.setFault({ kind: "drop-connections" });
    await quiet();
    expect(lost).toEqual([]);
    expect(sim.served.channels).toBe(channels);
    expect(reconnectLines(memory.lines)).toEqual([]);
    expect((await rejection(l.read(["real_pressure"]))).code).toBe(ErrorCode.NOT_CONNECTED);
  });
});

describe("OPC UA link: subscriptions that fail while the session lives", () => {
  it("refuse-subscriptions: subscribe rejects with a tag-level code (BadTooManySubscriptions); the link stays up", async () => {
    const l = link(memoryLog().log);
    const lost = lostRecorder(l);
    await l.connect();
    sim.setFault({ kind: "refuse-subscriptions" });
    const e = await rejection(l.subscribe!(["real_h2_flowrate"], recordPushes().listener));
    expect(e.code).toBe(ErrorCode.OPCUA_BAD_STATUS);
    expect(e.message).toContain("BadTooManySubscriptions");
    expect((await l.read(["real_pressure"])).get("real_pressure")?.quality).toBe("good");
    sim.clearFaults();
    const pushes = recordPushes();
    const subscription = await l.subscribe!(["real_h2_flowrate"], pushes.listener);
    await waitFor(() => pushes.readings.length > 0, 5_000, "a value once the server accepts subscriptions");
    await subscription.close();
    expect(lost).toEqual([]);
  });

  it("silent-subscriptions: no sign of life reaches plantbridge while reads go on; life returns when it clears", async () => {
    const l = link(memoryLog().log, { keepAliveMs: 500, publishingIntervalMs: 50 });
    const lost = lostRecorder(l);
    await l.connect();
    const pushes = recordPushes();
    const subscription = await l.subscribe!(["real_h2_flowrate"], pushes.listener);
    await waitFor(() => pushes.alive >= 3, 5_000, "keep-alives of a healthy subscription");
    sim.setFault({ kind: "silent-subscriptions" });
    // A publish response already on its way may still arrive; after one round trip none can.
    await l.read(["real_pressure"]);
    const aliveAtSilence = pushes.alive;
    // Longer than the subscription's silence limit, measured by the server's own answers to reads.
    const until = performance.now() + subscription.silenceLimitMs + 500;
    while (performance.now() < until) {
      expect((await l.read(["real_pressure"])).get("real_pressure")?.quality).toBe("good");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(pushes.alive).toBe(aliveAtSilence);
    expect(lost).toEqual([]);
    await subscription.close();
    // plantbridge's cure (the push machine reports the silence as a link failure): a fresh session.
    sim.clearFaults();
    await l.close();
    await l.connect();
    const again = recordPushes();
    const renewed = await l.subscribe!(["real_h2_flowrate"], again.listener);
    await waitFor(() => again.alive >= 2, 10_000, "keep-alives on the fresh session");
    await renewed.close();
  });
});

describe("OPC UA link against a port that never answers", () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  let port = 0;

  beforeAll(async () => {
    // Reads (and drops) what the client sends, never answers: so it also notices when the client hangs up.
    silent = createServer((socket) => {
      socket.resume();
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    port = typeof address === "object" && address !== null ? address.port : 0;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it("connect rejects with PB_ERR_OPCUA_TIMEOUT and does not try again", async () => {
    const memory = memoryLog();
    const l = createOpcuaLink(methUnit(`opc.tcp://127.0.0.1:${port}`, { timeoutMs: 500 }), {
      log: memory.log,
      pkiDir,
    });
    links.push(l);
    const e = await rejection(l.connect());
    expect(e.code).toBe(ErrorCode.OPCUA_TIMEOUT);
    expect(e.origin.unit).toBe("METH");
    await quiet();
    expect(sockets.size).toBe(0); // the abandoned attempt closed its socket and opened no other
    expect(reconnectLines(memory.lines)).toEqual([]);
  });
});
