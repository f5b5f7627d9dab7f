export type { PemelModelParams, PemelState } from "./dynamics.ts";
export { defaultCurveFile, type FlowCurve, loadFlowCurve, parseFlowCurve } from "./flow-curve.ts";
export {
  type PemelFault,
  type PemelSimulator,
  type PemelSimulatorOptions,
  startPemelSimulator,
} from "./pemel-simulator.ts";
export { maxCurrent, pemelAddress, processValueNames, readOnlyRange, statusBit } from "./register-map.ts";
export type { ServedLog, ServedRead, ServedRegisterWrite, ServedWrite } from "./served-log.ts";
