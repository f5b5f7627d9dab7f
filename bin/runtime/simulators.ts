import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { Log } from "../../lib/log.ts";
import { type MethSimulator, startMethSimulator } from "../../simulators/meth/index.ts";
import { type PemelSimulator, startPemelSimulator } from "../../simulators/pemel/index.ts";
import { checkFaultSpecs, methFault, pemelFault, type ScheduledFault } from "./fault-schedule.ts";

export interface RunningSimulators {
  pemel: PemelSimulator;
  meth: MethSimulator;
  /** The variables config/sim.yaml expects: ports and endpoint of the simulators, METH's password. */
  env: Record<string, string>;
  /** Starts the `--fault` timers; times count from this call. */
  startFaultSchedule(): void;
  /** The faults applied so far, as their specs. */
  injected(): string[];
  stop(): Promise<void>;
}

/** Starts PEMEL (Modbus TCP) and METH (OPC UA) on free loopback ports, with their dynamics running in real time. */
export async function startSimulators(options: {
  varDir: string;
  log: Log;
  faults: readonly string[];
}): Promise<RunningSimulators> {
  // Validate every spec before anything starts.
  const schedule = checkFaultSpecs(options.faults);
  const password = randomBytes(12).toString("base64url");
  const pemel = await startPemelSimulator({ log: options.log.child({ simulator: "PEMEL" }) });
  let meth: MethSimulator;
  try {
    meth = await startMethSimulator({
      username: "plantbridge",
      password,
      pkiDir: join(options.varDir, "pki", "meth-simulator"),
      log: options.log.child({ simulator: "METH" }),
    });
  } catch (e) {
    await pemel.stop();
    throw e;
  }
  const timers: NodeJS.Timeout[] = [];
  const injected: string[] = [];

  const apply = (f: ScheduledFault): void => {
    injected.push(f.spec);
    options.log.warn({ fault: f.spec }, `simulator fault injected: ${f.spec}`);
    const sim = f.target === "pemel" ? pemel : meth;
    if (f.kind === "restart") {
      sim
        .restart()
        .catch((e: unknown) => options.log.error({ err: e, fault: f.spec }, "simulator restart failed"));
      return;
    }
    if (f.target === "pemel") pemel.setFault(pemelFault(f));
    else meth.setFault(methFault(f));
    if (f.forMs !== undefined) {
      timers.push(
        setTimeout(() => {
          options.log.info({ fault: f.spec }, `simulator fault cleared: ${f.spec}`);
          if (f.target === "pemel") pemel.clearFault(pemelFault(f).kind);
          else meth.clearFaults();
        }, f.forMs),
      );
    }
  };

  return {
    pemel,
    meth,
    env: {
      PB_SIM_PEMEL_PORT: String(pemel.port),
      PB_SIM_METH_ENDPOINT: meth.endpoint,
      PB_SIM_METH_PASSWORD: password,
    },
    startFaultSchedule() {
      for (const f of schedule) timers.push(setTimeout(() => apply(f), f.atMs));
    },
    injected: () => [...injected],
    async stop() {
      for (const t of timers) clearTimeout(t);
      await Promise.allSettled([pemel.stop(), meth.stop()]);
    },
  };
}
