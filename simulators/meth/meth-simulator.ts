/**
 * The METH simulator: an OPC UA server on loopback that serves the methanation unit's
 * variables (namespace index 7, the reference plant's node ids), with load-profile
 * dynamics and fault injection.
 */
import type { Socket } from "node:net";
import {
  MonitoredItem,
  OPCUAServer,
  ServerState,
  StatusCodes,
  Subscription,
  type UAVariable,
} from "node-opcua";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import {
  buildMethAddressSpace,
  findMethVariable,
  METH_NAMESPACE_INDEX,
  METH_NAMESPACE_URI,
  type MethVariableKey,
  methDataType,
  methVariables,
} from "./address-space.ts";
import { createClientSockets } from "./client-sockets.ts";
import { initialProcess, type MethProcess, stepMeth } from "./dynamics.ts";
import type { MethBadStatus, MethFault } from "./faults.ts";
import { defaultLoadProfile, demandAt, type LoadProfile } from "./load-profile.ts";
import { countServed, type MethServed, noneServed } from "./served-counter.ts";
import { methServerOptions } from "./server-options.ts";
import { subscriptionFaults } from "./subscription-faults.ts";

export type { MethServed } from "./served-counter.ts";

export interface MethSimulatorOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** TCP port; default 0 (a free one, read it from `port`). */
  port?: number;
  /** Both given = the only accepted user; anonymous sessions are then refused unless `allowAnonymous`. */
  username?: string;
  password?: string;
  /** Default: true when no username is given. */
  allowAnonymous?: boolean;
  /** Server and user PKI folders go under here (`<pkiDir>/server`, `<pkiDir>/user`). */
  pkiDir: string;
  profile?: LoadProfile;
  /** Period of the dynamics; 0 = no timer (call `step()` yourself). Default 100 ms. */
  tickMs?: number;
  /** Source of timestamps (epoch ms); default Date.now. */
  clock?: () => number;
  /** Smallest sampling interval the variables and the server accept, ms. Default 10. */
  minimumSamplingIntervalMs?: number;
  log?: Log;
}

export interface MethValues {
  temperature: number;
  pressure: number;
  methaneProduction: number;
  h2Flowrate: number;
}

/** How `restart()` reboots the server. */
export interface MethRestartOptions {
  /** How long the server stays down (connections refused) before it starts again; default 0. */
  downMs?: number;
  /**
   * Runs while the server is down, e.g. to change the demand the restarted server serves; the server
   * starts again once it has settled and `downMs` has passed.
   */
  whileDown?: () => void | Promise<void>;
}

export interface MethSimulator {
  /** `opc.tcp://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  readonly namespaceIndex: number;
  readonly namespaceUri: string;
  /** Holds the H2 demand at `v` Nl/min (the load profile pauses) and publishes it at once. */
  setDemand(v: number): void;
  /** Lets the demand follow the load profile again. */
  followProfile(): void;
  demand(): number;
  /** The process values as last published. */
  values(): MethValues;
  /** The value a variable holds now (after client writes too); null while it serves a Bad status. */
  valueOf(node: string): number | boolean | null;
  /** Advances the dynamics by `dtMs` and publishes the new values. */
  step(dtMs: number): void;
  setFault(fault: MethFault): void;
  clearFaults(): void;
  /**
   * Stops the server and starts it again on the same port: new session ids, no subscriptions.
   * The process (demand, values, faults) is kept, like a PLC's retained memory.
   */
  restart(options?: MethRestartOptions): Promise<void>;
  stop(): Promise<void>;
  readonly served: Readonly<MethServed>;
  /** Sessions the server holds now. */
  sessions(): number;
}

function holdsGood(variable: UAVariable, value: number | boolean): boolean {
  const held = variable.readValue();
  return held.statusCode.equals(StatusCodes.Good) && held.value.value === value;
}

/** The endpoint's listening server (node-opcua's types mark it private; it is a plain field). */
interface EndpointWithListener {
  _server?: { on(event: "connection", listener: (socket: Socket) => void): unknown };
}

function endpointsOf(server: OPCUAServer): EndpointWithListener[] {
  // Needed for fault injection only: node-opcua keeps each channel's socket in a true private
  // field, so the simulator tracks the sockets itself as the listener accepts them.
  return server.endpoints as unknown as EndpointWithListener[];
}

export async function startMethSimulator(options: MethSimulatorOptions): Promise<MethSimulator> {
  const host = options.host ?? "127.0.0.1";
  const clock = options.clock ?? Date.now;
  const tickMs = options.tickMs ?? 100;
  const profile = options.profile ?? defaultLoadProfile;
  const minSampling = options.minimumSamplingIntervalMs ?? 10;
  const log = options.log;
  const allowAnonymous = options.allowAnonymous ?? options.username === undefined;

  // Faster than node-opcua's 50 ms defaults, so 10 ms sampling/publishing work (see STACK.md).
  Subscription.minimumPublishingInterval = Math.min(Subscription.minimumPublishingInterval, minSampling);
  MonitoredItem.minimumSamplingInterval = Math.min(MonitoredItem.minimumSamplingInterval, minSampling);

  const served: MethServed = noneServed();

  // ---------------------------------------------------------------- process state
  const startedAt = clock();
  let elapsedMs = 0;
  let manualDemand: number | undefined;
  let demand = demandAt(profile, 0);
  let reactor: MethProcess = initialProcess(demand);
  let frozen = false;
  const badStatus = new Map<MethVariableKey, MethBadStatus>();

  let server: OPCUAServer | undefined;
  let variables = new Map<MethVariableKey, UAVariable>();
  let port = options.port ?? 0;
  let timer: NodeJS.Timeout | undefined;
  let lastTick = clock();
  let stopped = false;

  const processValue: Record<"temperature" | "pressure" | "methaneProduction" | "h2Flowrate", () => number> =
    {
      temperature: () => reactor.temperature,
      pressure: () => reactor.pressure,
      methaneProduction: () => reactor.methaneProduction,
      h2Flowrate: () => demand,
    };

  function publish(key: MethVariableKey, value?: number | boolean): void {
    const variable = variables.get(key);
    if (variable === undefined) return;
    const when = new Date(clock());
    const status = badStatus.get(key);
    if (status !== undefined) {
      variable.setValueFromSource(
        { dataType: methDataType(key), value: variable.readValue().value.value },
        StatusCodes[status],
        when,
      );
      return;
    }
    if (value === undefined) return;
    // A variable served on change notifies every write: like a PLC program's output, it is written
    // only when its value changes (the dynamics' tick would otherwise re-notify the same demand).
    if (methVariables[key].onChange && holdsGood(variable, value)) return;
    variable.setValueFromSource({ dataType: methDataType(key), value }, StatusCodes.Good, when);
  }

  function publishProcess(): void {
    if (frozen) return;
    for (const key of ["temperature", "pressure", "methaneProduction", "h2Flowrate"] as const) {
      publish(key, processValue[key]());
    }
  }

  function currentDemand(): number {
    return manualDemand ?? demandAt(profile, elapsedMs);
  }

  function step(dtMs: number): void {
    if (!(dtMs > 0)) return;
    elapsedMs += dtMs;
    demand = currentDemand();
    reactor = stepMeth(reactor, demand, elapsedMs, dtMs);
    publishProcess();
  }

  // ---------------------------------------------------------------- sockets and faults
  const sockets = createClientSockets();
  const subscriptions = subscriptionFaults();

  /** The server closes sessions as after a session timeout; their channels stay open. */
  function closeSessions(): void {
    if (server === undefined) return;
    const engine = server.engine;
    for (const session of engine.getSessions()) {
      engine.closeSession(session.authenticationToken, true, "Forcing");
    }
  }

  /** Sockets first (clients see the connection break), then the sessions they leave behind. */
  function dropConnections(): void {
    sockets.destroyAll();
    closeSessions();
  }

  // ---------------------------------------------------------------- server life
  async function startServer(): Promise<void> {
    const s = new OPCUAServer(
      methServerOptions({
        host,
        port,
        pkiDir: options.pkiDir,
        allowAnonymous,
        ...(options.username !== undefined ? { username: options.username } : {}),
        ...(options.password !== undefined ? { password: options.password } : {}),
      }),
    );
    await s.initialize();
    const addressSpace = s.engine.addressSpace;
    if (!addressSpace) throw new Error("the OPC UA server has no address space after initialize()");
    variables = buildMethAddressSpace(addressSpace, minSampling);
    // Restore what the variables held before a restart: the process values and any bad status.
    publishProcess();
    for (const key of badStatus.keys()) publish(key);

    countServed(s, served);
    subscriptions.attach(s);
    await s.start();
    for (const endpoint of endpointsOf(s))
      endpoint._server?.on("connection", (socket: Socket) => sockets.accept(socket));
    const listening = s.endpoints[0]?.port;
    if (listening === undefined) throw new Error("the OPC UA server has no endpoint after start()");
    port = listening;
    server = s;
  }

  async function stopServer(): Promise<void> {
    const s = server;
    server = undefined;
    variables = new Map();
    if (s === undefined) return;
    // Paused sockets would keep the listener from releasing the port.
    sockets.destroyAll();
    s.engine.setServerState(ServerState.Shutdown);
    await s.shutdown(0);
  }

  function startTimer(): void {
    if (tickMs <= 0 || timer !== undefined) return;
    lastTick = clock();
    timer = setInterval(() => {
      const now = clock();
      const dt = now - lastTick;
      lastTick = now;
      try {
        step(dt);
      } catch (e) {
        log?.error({ err: errorMessage(e) }, "METH simulator step failed");
      }
    }, tickMs);
    timer.unref();
  }

  try {
    await startServer();
  } catch (e) {
    await stopServer().catch(() => undefined);
    throw new PlantbridgeError(
      ErrorCode.SIMULATOR,
      `METH simulator could not start: ${errorMessage(e)}`,
      { unit: "METH" },
      { cause: e },
    );
  }
  startTimer();
  log?.info({ port, startedAt }, "METH simulator listening");

  const sim: MethSimulator = {
    get endpoint() {
      return `opc.tcp://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    namespaceIndex: METH_NAMESPACE_INDEX,
    namespaceUri: METH_NAMESPACE_URI,
    setDemand(v: number): void {
      if (!Number.isFinite(v) || v < 0) {
        throw new PlantbridgeError(ErrorCode.BAD_INPUT, `H2 demand must be a finite number >= 0, got ${v}`, {
          unit: "METH",
          tag: "real_h2_flowrate",
        });
      }
      manualDemand = v;
      demand = v;
      if (!frozen) publish("h2Flowrate", demand);
    },
    followProfile(): void {
      manualDemand = undefined;
    },
    demand: () => demand,
    values: () => ({
      temperature: reactor.temperature,
      pressure: reactor.pressure,
      methaneProduction: reactor.methaneProduction,
      h2Flowrate: demand,
    }),
    valueOf(node: string): number | boolean | null {
      const key = findMethVariable(node);
      if (key === undefined)
        throw new PlantbridgeError(ErrorCode.UNKNOWN_TAG, `METH has no variable "${node}"`, {
          unit: "METH",
          tag: node,
        });
      const variable = variables.get(key);
      if (variable === undefined) return null;
      const dv = variable.readValue();
      if (!dv.statusCode.isGoodish()) return null;
      const v: unknown = dv.value.value;
      return typeof v === "number" || typeof v === "boolean" ? v : null;
    },
    step,
    setFault(fault: MethFault): void {
      log?.info({ fault: fault.kind }, "METH simulator fault");
      switch (fault.kind) {
        case "bad-status": {
          const status = fault.status ?? "BadSensorFailure";
          const keys = fault.nodes.map((node) => {
            const key = findMethVariable(node);
            if (key === undefined) {
              throw new PlantbridgeError(ErrorCode.UNKNOWN_TAG, `METH has no variable "${node}"`, {
                unit: "METH",
                tag: node,
              });
            }
            return key;
          });
          for (const key of keys) {
            badStatus.set(key, status);
            publish(key);
          }
          return;
        }
        case "drop-connections":
          dropConnections();
          return;
        case "close-sessions":
          closeSessions();
          return;
        case "stop-answering":
          sockets.stopAnswering();
          return;
        case "freeze":
          frozen = true;
          return;
        case "refuse-subscriptions":
          subscriptions.refuse();
          return;
        case "silent-subscriptions":
          subscriptions.silence();
          return;
      }
    },
    clearFaults(): void {
      const wasBad = [...badStatus.keys()];
      badStatus.clear();
      frozen = false;
      sockets.answerAgain();
      subscriptions.clear();
      for (const key of wasBad) {
        const spec = methVariables[key];
        const current = key in processValue ? processValue[key as keyof typeof processValue]() : undefined;
        const held = variables.get(key)?.readValue().value.value as number | boolean | undefined;
        publish(key, current ?? held ?? spec.initial);
      }
      publishProcess();
    },
    async restart(restartOptions: MethRestartOptions = {}): Promise<void> {
      if (stopped)
        throw new PlantbridgeError(ErrorCode.SIMULATOR, "METH simulator is stopped", { unit: "METH" });
      await stopServer();
      await restartOptions.whileDown?.();
      const downMs = restartOptions.downMs ?? 0;
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      try {
        await startServer();
      } catch (e) {
        throw new PlantbridgeError(
          ErrorCode.SIMULATOR,
          `METH simulator could not start again on port ${port}: ${errorMessage(e)}`,
          { unit: "METH" },
          { cause: e },
        );
      }
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await stopServer();
      log?.info("METH simulator stopped");
    },
    served,
    sessions: () => server?.currentSessionCount ?? 0,
  };
  return sim;
}
