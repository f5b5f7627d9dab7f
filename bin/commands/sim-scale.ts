import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { effectiveHttp } from "../../status/address.ts";
import { createGate } from "../../status/auth.ts";
import type { CommonOptions } from "../cli-options.ts";
import { announce } from "../runtime/announce.ts";
import { checkFaultSpecs, type ScheduledFault, scaleFault } from "../runtime/fault-schedule.ts";

/**
 * `plantbridge sim --scale UNITSxTAGS`: the Modbus scale simulator (UNITS devices on their own
 * ports, or with --gateway one gateway with unit ids 1..UNITS), a plant generated for it (every
 * register a uint16 tag, all stored every --period, default 1 s; connection: shared behind the
 * gateway) written to <var>/scale-UNITSxTAGS.yaml and loaded like any plant file, and the embedded
 * PostgreSQL. With --duration, prints one JSON line: what was stored (per unit, and whether every
 * slot holds every tag) against what the simulator served.
 */
export async function simScaleCommand(options: CommonOptions): Promise<number> {
  const scale = options.scale;
  if (scale === undefined) throw new Error("sim --scale needs UNITSxTAGS");
  const varDir = resolve(options.varDir ?? join("var", "sim"));
  const schedule = checkFaultSpecs(options.faults, ["scale"]);
  const periodMs = options.periodMs ?? 1000;
  const shape = options.gateway ? "gateway" : "devices";
  const [
    { loadPlantFile },
    { countScaleSamples },
    { createPlantLog },
    { waitForStop },
    { startModbusScaleSimulator },
    { scalePlantYaml },
    { startPlant },
    { watchFatalErrors },
  ] = await Promise.all([
    import("../../schemas/load-plant.ts"),
    import("../runtime/scale-counts.ts"),
    import("../runtime/plant-log.ts"),
    import("../runtime/signals.ts"),
    import("../../simulators/scale/index.ts"),
    import("../../simulators/scale/scale-plant.ts"),
    import("../runtime/start-plant.ts"),
    import("../runtime/fatal-errors.ts"),
  ]);
  const log = createPlantLog(varDir, options.logLevel);
  const fatalError = watchFatalErrors(log);
  const started = Date.now();
  const sim = await startModbusScaleSimulator({
    units: scale.units,
    registers: scale.tags,
    shape,
    changeEveryMs: periodMs,
  });
  const timers: NodeJS.Timeout[] = [];
  try {
    const name = `scale-${scale.units}x${scale.tags}`;
    const file = join(varDir, `${name}${options.gateway ? "-gateway" : ""}.yaml`);
    await mkdir(varDir, { recursive: true });
    await writeFile(
      file,
      scalePlantYaml({
        plant: name,
        units: sim.units,
        tags: scale.tags,
        connection: options.gateway ? "shared" : "separate",
        periodMs,
        // Behind the gateway, a unit id that stops answering holds the one connection for its
        // timeout: a quarter of the period keeps its neighbours inside the storage deadline.
        ...(options.gateway ? { timeoutMs: Math.max(100, Math.floor(periodMs / 4)) } : {}),
        historianSchema: "scale",
      }),
    );
    const plant = await loadPlantFile(file, { varDir, env: {} });
    // this run's slots: the first one stamped is at or after this grid time
    const fromMs = Math.floor(Date.now() / periodMs) * periodMs;
    const http = effectiveHttp(plant.http, options.http);
    if (http !== false) createGate(http.host, http.token);
    const running = await startPlant(plant, {
      log,
      ...(options.inspect !== undefined ? { inspect: options.inspect } : {}),
      ...(http !== false ? { http } : {}),
    });
    announce(running);
    const injected: string[] = [];
    for (const f of schedule) timers.push(...scheduleScaleFault(f, sim, injected, log));
    const ended = await Promise.race([
      waitForStop(log, options.durationS).then((reason) => ({ reason, fatal: null })),
      running.stopped.then((output) => ({ reason: "stopped" as const, fatal: output.fatal })),
      fatalError.then((fatal) => ({ reason: "fatal" as const, fatal })),
    ]);
    for (const t of timers) clearTimeout(t);
    let counts: Awaited<ReturnType<typeof countScaleSamples>> | undefined;
    await running.stop(async (url) => {
      counts = await countScaleSamples(url, plant.storage.historian, fromMs, plant.storage.tags.length);
    });
    const health = running.health();
    const served = sim.served.all();
    const summary = {
      reason: ended.fatal === null ? ended.reason : "fatal",
      ...(ended.fatal !== null ? { fatal: ended.fatal } : {}),
      seconds: Math.round((Date.now() - started) / 100) / 10,
      scale: `${scale.units}x${scale.tags}`,
      shape,
      connection: options.gateway ? "shared" : "separate",
      periodMs,
      plantFile: file,
      cycles: health.storage.cycles,
      slotsStored: counts?.slots ?? 0,
      completeSlots: counts?.completeSlots ?? 0,
      samplesPerSlot: plant.storage.tags.length,
      samplesStored: Object.fromEntries(Object.entries(counts?.units ?? {}).map(([u, c]) => [u, c.samples])),
      badSamplesStored: Object.fromEntries(Object.entries(counts?.units ?? {}).map(([u, c]) => [u, c.bad])),
      signalsStored: Object.values(counts?.units ?? {}).reduce((n, c) => n + c.signals, 0),
      overruns: health.storage.overruns,
      lateUnits: health.storage.lateUnits,
      faultsSeen: Object.fromEntries(Object.entries(health.units).map(([unit, u]) => [unit, u.faults])),
      faultsInjected: injected,
      served: {
        reads: served.reduce((n, u) => n + u.reads, 0),
        registers: served.reduce((n, u) => n + u.registers, 0),
        exceptions: served.reduce((n, u) => n + u.exceptions, 0),
        unanswered: served.reduce((n, u) => n + u.unanswered, 0),
      },
      spool: health.spool,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return ended.fatal === null ? 0 : 1;
  } finally {
    for (const t of timers) clearTimeout(t);
    await sim.stop();
    log.flush();
  }
}

/** The timers of one `--fault scale:…` spec. */
function scheduleScaleFault(
  f: ScheduledFault,
  sim: { setSilent(unitId: number, silent: boolean): void; dropConnections(): void },
  injected: string[],
  log: { warn(o: object, m: string): void; info(o: object, m: string): void },
): NodeJS.Timeout[] {
  const fault = scaleFault(f);
  const apply = () => {
    injected.push(f.spec);
    log.warn({ fault: f.spec }, `simulator fault injected: ${f.spec}`);
    if (fault.kind === "silent") sim.setSilent(fault.unitId, true);
    else sim.dropConnections();
  };
  const timers = [setTimeout(apply, f.atMs)];
  if (fault.kind === "silent" && f.forMs !== undefined) {
    timers.push(
      setTimeout(() => {
        log.info({ fault: f.spec }, `simulator fault cleared: ${f.spec}`);
        sim.setSilent(fault.unitId, false);
      }, f.atMs + f.forMs),
    );
  }
  return timers;
}
