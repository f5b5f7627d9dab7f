/**
 * The OPC UA scale simulator: one OPC UA server on loopback with N Double variables (`s=n0000`, …,
 * under Objects/SCALE in namespace `urn:plantbridge:sim:scale`) whose values all change every
 * `changeEveryMs`, for benches and tests of OPC UA units far larger than METH's four variables.
 *
 * Node `n` holds `opcuaScaleValue(n, tick)` (deterministic and invertible, like the Modbus scale
 * simulator's registers), published with `setValueFromSource` on each tick, so subscribed clients
 * get one data change per node per tick. The server is METH's (simulators/meth/server-options.ts:
 * its own PKI, every security mode), anonymous only. Requests are counted as METH's are.
 */
import {
  DataType,
  MonitoredItem,
  makeAccessLevelFlag,
  OPCUAServer,
  ServerState,
  StatusCodes,
  Subscription,
  type UAVariable,
} from "node-opcua";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import { countServed, type MethServed, noneServed } from "../meth/served-counter.ts";
import { methServerOptions } from "../meth/server-options.ts";

export const OPCUA_SCALE_NAMESPACE_URI = "urn:plantbridge:sim:scale";

export interface OpcuaScaleSimulatorOptions {
  /** Variables (N), 1..100 000. */
  nodes: number;
  /** Every value changes every this many ms (the rate); default 1000. */
  changeEveryMs?: number;
  /** Server PKI folders go under here. */
  pkiDir: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port, read it from `port`). */
  port?: number;
  /** Smallest sampling interval the variables and the server accept, ms; default 10. */
  minimumSamplingIntervalMs?: number;
}

export interface OpcuaScaleSimulator {
  /** `opc.tcp://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  readonly nodes: number;
  /** The namespace index of the variables (the server registers it after its own: 1 + 1). */
  readonly namespaceIndex: number;
  readonly changeEveryMs: number;
  /** Ticks published so far (0 = the initial values). */
  tick(): number;
  /** Requests served (reads, subscriptions, monitored items, sessions, channels). */
  readonly served: Readonly<MethServed>;
  stop(): Promise<void>;
}

const maxNodes = 100_000;

/** `n0000`…: the browse name and string id of node `n`. */
export function opcuaScaleNodeName(node: number): string {
  return `n${String(node).padStart(4, "0")}`;
}

/** What node `n` holds at `tick`: `n · 1000 + tick mod 1000` (so a stored value names its node and tick). */
export function opcuaScaleValue(node: number, tick: number): number {
  return node * 1000 + (tick % 1000);
}

export async function startOpcuaScaleSimulator(
  options: OpcuaScaleSimulatorOptions,
): Promise<OpcuaScaleSimulator> {
  const { nodes } = options;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > maxNodes) {
    throw new PlantbridgeError(ErrorCode.SIMULATOR, `nodes must be 1..${maxNodes}, got ${nodes}`);
  }
  const changeEveryMs = options.changeEveryMs ?? 1000;
  const minSampling = options.minimumSamplingIntervalMs ?? 10;
  Subscription.minimumPublishingInterval = Math.min(Subscription.minimumPublishingInterval, minSampling);
  MonitoredItem.minimumSamplingInterval = Math.min(MonitoredItem.minimumSamplingInterval, minSampling);

  const served = noneServed();
  const server = new OPCUAServer({
    ...methServerOptions({
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 0,
      pkiDir: options.pkiDir,
      allowAnonymous: true,
    }),
    serverInfo: {
      applicationUri: "urn:plantbridge:sim:scale:server",
      productUri: "urn:plantbridge:sim:scale",
      applicationName: { text: "plantbridge OPC UA scale simulator" },
    },
    buildInfo: { productName: "plantbridge OPC UA scale simulator", manufacturerName: "plantbridge" },
  });
  let timer: NodeJS.Timeout | undefined;
  let tick = 0;
  const variables: UAVariable[] = [];
  const publish = (): void => {
    const when = new Date();
    for (const [n, variable] of variables.entries()) {
      variable.setValueFromSource(
        { dataType: DataType.Double, value: opcuaScaleValue(n, tick) },
        StatusCodes.Good,
        when,
      );
    }
  };
  let namespaceIndex = 0;
  try {
    await server.initialize();
    const addressSpace = server.engine.addressSpace;
    if (!addressSpace) throw new Error("the OPC UA server has no address space after initialize()");
    const namespace = addressSpace.registerNamespace(OPCUA_SCALE_NAMESPACE_URI);
    namespaceIndex = namespace.index;
    const folder = namespace.addObject({ browseName: "SCALE", organizedBy: addressSpace.rootFolder.objects });
    const access = makeAccessLevelFlag("CurrentRead");
    for (let n = 0; n < nodes; n++) {
      const name = opcuaScaleNodeName(n);
      variables.push(
        namespace.addVariable({
          browseName: name,
          nodeId: `s=${name}`,
          componentOf: folder,
          dataType: DataType.Double,
          minimumSamplingInterval: minSampling,
          accessLevel: access,
          userAccessLevel: access,
        }),
      );
    }
    publish();
    countServed(server, served);
    await server.start();
  } catch (e) {
    await server.shutdown(0).catch(() => undefined);
    throw new PlantbridgeError(
      ErrorCode.SIMULATOR,
      `OPC UA scale simulator could not start: ${errorMessage(e)}`,
      {},
      { cause: e },
    );
  }
  const port = server.endpoints[0]?.port ?? 0;
  timer = setInterval(() => {
    tick += 1;
    publish();
  }, changeEveryMs);
  timer.unref();

  return {
    endpoint: `opc.tcp://127.0.0.1:${port}`,
    port,
    nodes,
    namespaceIndex,
    changeEveryMs,
    tick: () => tick,
    served,
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      server.engine.setServerState(ServerState.Shutdown);
      await server.shutdown(0);
    },
  };
}
