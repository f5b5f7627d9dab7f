export {
  findMethVariable,
  METH_NAMESPACE_INDEX,
  METH_NAMESPACE_URI,
  type MethVariableKey,
  methBrowseName,
  methNodeId,
  methVariables,
} from "./address-space.ts";
export { type MethBadStatus, type MethFault, type MethFaultKind, methBadStatuses } from "./faults.ts";
export {
  defaultLoadProfile,
  demandAt,
  type LoadProfile,
  type LoadProfilePoint,
  scaleLoadProfile,
} from "./load-profile.ts";
export {
  type MethRestartOptions,
  type MethServed,
  type MethSimulator,
  type MethSimulatorOptions,
  type MethValues,
  startMethSimulator,
} from "./meth-simulator.ts";
