import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPlantFile } from "../../../schemas/load-plant.ts";
import type { PlantView } from "../../../status/plant-view.ts";
import { createTrendBuffer, measuredTag } from "../../../status/trend-buffer.ts";

const simYaml = join(import.meta.dirname, "../../../config/sim.yaml");
const env = { PB_SIM_PEMEL_PORT: "1502", PB_SIM_METH_ENDPOINT: "opc.tcp://127.0.0.1:1" };

function view(time: number, demand: number | null, current: number, written: number | null): PlantView {
  return {
    time,
    tags: [
      { id: "METH.h2_demand", quality: demand === null ? "bad" : "good", value: demand },
      { id: "PEMEL.el_current_act", quality: "good", value: current },
    ],
    loops: [{ name: "pemel_follows_meth_h2_demand", output: { lastWritten: written } }],
  } as unknown as PlantView;
}

describe("the control loop's trend", () => {
  it("finds the measured value of a set point: a read-only tag of the unit in the same engineering unit", async () => {
    const plant = await loadPlantFile(simYaml, { env });
    expect(measuredTag(plant, "PEMEL", "current_setpoint")).toBe("el_current_act");
    expect(measuredTag(plant, "PEMEL", "no_such_tag")).toBeUndefined();
  });

  it("keeps one point a second for the last 15 minutes, bad values as gaps", async () => {
    const plant = await loadPlantFile(simYaml, { env });
    const buffer = createTrendBuffer(plant, 3);
    buffer.add(view(1000, 10, 20, 21));
    buffer.add(view(2000, null, 22, 21));
    buffer.add(view(3000, 12, 23, 24));
    buffer.add(view(4000, 13, 24, 25));
    const [trend] = buffer.trends();
    expect(trend?.time).toEqual([2, 3, 4]);
    expect(trend?.demand.values).toEqual([null, 12, 13]);
    expect(trend?.setpoint.values).toEqual([21, 24, 25]);
    expect(trend?.measured?.tag).toBe("PEMEL.el_current_act");
    expect(trend?.measured?.values).toEqual([22, 23, 24]);
    expect(trend?.demand.engineeringUnit).toBe("Nl/min");
  });
});
