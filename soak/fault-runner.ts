/**
 * Applies the soak's faults to the simulators, the historian proxy and the plant's wall clock, holds
 * each for its time and clears it; counts what was done.
 */
import type { RunningSimulators } from "../bin/runtime/simulators.ts";
import type { SteppableClock } from "../lib/clock.ts";
import { errorMessage } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import type { TcpProxy } from "../simulators/network/tcp-proxy.ts";
import type { SoakFault, SoakTarget } from "./fault-plan.ts";

export interface FaultRunnerDeps {
  simulators: RunningSimulators;
  proxy: TcpProxy;
  clock: SteppableClock;
  log: Log;
  say(line: string): void;
}

export interface FaultRunner {
  start(fault: SoakFault): void;
  busy(): ReadonlySet<SoakTarget>;
  clearAll(): Promise<void>;
  count(): number;
  byKind(): Record<string, number>;
}

export function createFaultRunner(deps: FaultRunnerDeps): FaultRunner {
  const { simulators, proxy, clock, log, say } = deps;
  const busy = new Set<SoakTarget>();
  const timers = new Set<NodeJS.Timeout>();
  const kinds: Record<string, number> = {};
  const restarts = new Set<Promise<void>>();

  const track = (work: Promise<void>, name: string) => {
    const p = work.catch((e: unknown) => say(`${name} failed: ${errorMessage(e)}`));
    restarts.add(p);
    void p.finally(() => restarts.delete(p));
  };

  function clear(target: SoakTarget): void {
    if (target === "pemel") simulators.pemel.clearFaults();
    else if (target === "meth") simulators.meth.clearFaults();
    else if (target === "historian") proxy.restore();
    busy.delete(target);
  }

  function apply(fault: SoakFault): void {
    switch (fault.target) {
      case "pemel":
        if (fault.fault === "restart") track(simulators.pemel.restart(), fault.name);
        else simulators.pemel.setFault(fault.fault);
        return;
      case "meth":
        if (fault.fault === "restart") track(simulators.meth.restart({ downMs: fault.downMs }), fault.name);
        else simulators.meth.setFault(fault.fault);
        return;
      case "historian":
        if (fault.mode === "sever") proxy.sever();
        else proxy.stall();
        return;
      case "clock":
        clock.step(fault.stepMs);
        return;
    }
  }

  return {
    start(fault) {
      busy.add(fault.target);
      kinds[fault.name] = (kinds[fault.name] ?? 0) + 1;
      log.warn({ fault: fault.name, holdMs: fault.holdMs }, `soak fault: ${fault.name}`);
      say(`fault ${fault.name} for ${(fault.holdMs / 1000).toFixed(1)} s`);
      apply(fault);
      const timer = setTimeout(() => {
        timers.delete(timer);
        clear(fault.target);
      }, fault.holdMs);
      timers.add(timer);
    },
    busy: () => busy,
    async clearAll() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.all([...restarts]);
      for (const target of [...busy]) clear(target);
      simulators.pemel.clearFaults();
      simulators.meth.clearFaults();
      proxy.restore();
    },
    count: () => Object.values(kinds).reduce((n, k) => n + k, 0),
    byKind: () => ({ ...kinds }),
  };
}
