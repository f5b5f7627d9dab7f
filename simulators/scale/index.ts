export {
  type ModbusScaleSimulator,
  type ScaleShape,
  type ScaleSimulatorOptions,
  type ScaleUnit,
  startModbusScaleSimulator,
} from "./modbus-scale-simulator.ts";
export type { ScaleServed, ScaleServedRequest, ScaleServedUnit } from "./scale-served.ts";
export { scaleValue, tickOf } from "./scale-values.ts";
