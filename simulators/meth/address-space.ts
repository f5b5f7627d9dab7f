/**
 * METH's address space: the B&R PLC's global variables under namespace index 7, with the
 * string node ids of the reference plant, plus a few writable test variables.
 */
import {
  type AddressSpace,
  DataType,
  makeAccessLevelFlag,
  makeEUInformation,
  type UAObject,
  type UAVariable,
} from "node-opcua";

export const METH_NAMESPACE_URI = "urn:plantbridge:sim:meth";
/** The real PLC serves its variables at index 7; the simulator registers placeholders to match. */
export const METH_NAMESPACE_INDEX = 7;

export type MethVariableKey =
  | "temperature"
  | "pressure"
  | "methaneProduction"
  | "h2Flowrate"
  | "testSetpoint"
  | "testLevel"
  | "testEnable";

interface MethVariableSpec {
  /** The string identifier (`s=` part of the node id). */
  id: string;
  dataType: "Double" | "Int16" | "Boolean";
  writable: boolean;
  /** UNECE common code, short and long name of the engineering unit. */
  engineeringUnit?: readonly [code: string, short: string, long: string];
  range?: { low: number; high: number };
  initial: number | boolean;
  /**
   * MinimumSamplingInterval 0: the server reports each change as it happens (exception-based) to a
   * client that asks for sampling interval 0, instead of sampling on a timer. The H2 demand, which
   * the control loop follows: a PLC program's output that changes when the program writes it.
   */
  onChange?: true;
}

const CELSIUS = ["CEL", "°C", "degree Celsius"] as const;
const BAR = ["BAR", "bar", "bar"] as const;
const NL_PER_MIN = ["L2", "Nl/min", "normal litre per minute"] as const;

export const methVariables: Readonly<Record<MethVariableKey, MethVariableSpec>> = {
  temperature: {
    id: "::AsGlobalPV:real_temperature",
    dataType: "Double",
    writable: false,
    engineeringUnit: CELSIUS,
    range: { low: 0, high: 80 },
    initial: 37.6,
  },
  pressure: {
    id: "::AsGlobalPV:real_pressure",
    dataType: "Double",
    writable: false,
    engineeringUnit: BAR,
    range: { low: 0, high: 10 },
    initial: 1,
  },
  methaneProduction: {
    id: "::AsGlobalPV:real_methane_production",
    dataType: "Double",
    writable: false,
    engineeringUnit: NL_PER_MIN,
    range: { low: 0, high: 10 },
    initial: 0,
  },
  h2Flowrate: {
    id: "::AsGlobalPV:real_h2_flowrate",
    dataType: "Double",
    writable: false,
    engineeringUnit: NL_PER_MIN,
    range: { low: 0, high: 25 },
    initial: 0,
    onChange: true,
  },
  testSetpoint: {
    id: "::AsGlobalPV:real_test_setpoint",
    dataType: "Double",
    writable: true,
    engineeringUnit: NL_PER_MIN,
    range: { low: 0, high: 100 },
    initial: 0,
  },
  testLevel: { id: "::AsGlobalPV:int_test_level", dataType: "Int16", writable: true, initial: 0 },
  testEnable: { id: "::AsGlobalPV:bool_test_enable", dataType: "Boolean", writable: true, initial: false },
};

export const methVariableKeys = Object.keys(methVariables) as MethVariableKey[];

/** `ns=7;s=::AsGlobalPV:real_h2_flowrate` */
export function methNodeId(key: MethVariableKey): string {
  return `ns=${METH_NAMESPACE_INDEX};s=${methVariables[key].id}`;
}

/** The browse name: the part after the last colon (`real_h2_flowrate`). */
export function methBrowseName(key: MethVariableKey): string {
  const id = methVariables[key].id;
  return id.slice(id.lastIndexOf(":") + 1);
}

/**
 * Finds a variable by key, browse name, string id or full node id (`ns=7;s=…`, `nsu=…;s=…`).
 * Undefined when nothing matches.
 */
export function findMethVariable(name: string): MethVariableKey | undefined {
  for (const key of methVariableKeys) {
    const id = methVariables[key].id;
    if (
      name === key ||
      name === methBrowseName(key) ||
      name === id ||
      name === methNodeId(key) ||
      name === `nsu=${METH_NAMESPACE_URI};s=${id}`
    ) {
      return key;
    }
  }
  return undefined;
}

const dataTypes = { Double: DataType.Double, Int16: DataType.Int16, Boolean: DataType.Boolean } as const;

export function methDataType(key: MethVariableKey): DataType {
  return dataTypes[methVariables[key].dataType];
}

/**
 * Registers five placeholder namespaces (index 2..6) and METH's (index 7), then adds the variables
 * under Objects/METH. Values are set from outside with `setValueFromSource` (no getters, which
 * would force a 1000 ms minimum sampling interval). Each variable's MinimumSamplingInterval is
 * `minimumSamplingIntervalMs`, except 0 for those served on change (`onChange`).
 */
export function buildMethAddressSpace(
  addressSpace: AddressSpace,
  minimumSamplingIntervalMs: number,
): Map<MethVariableKey, UAVariable> {
  // Index 0 is OPC UA's, 1 the server's own. 2..6 stand for the B&R runtime's namespaces.
  for (let i = 2; i < METH_NAMESPACE_INDEX; i++) {
    addressSpace.registerNamespace(`urn:plantbridge:sim:placeholder:${i}`);
  }
  const namespace = addressSpace.registerNamespace(METH_NAMESPACE_URI);
  if (namespace.index !== METH_NAMESPACE_INDEX) {
    throw new Error(`METH namespace landed at index ${namespace.index}, expected ${METH_NAMESPACE_INDEX}`);
  }
  const folder: UAObject = namespace.addObject({
    browseName: "METH",
    organizedBy: addressSpace.rootFolder.objects,
  });
  const variables = new Map<MethVariableKey, UAVariable>();
  for (const key of methVariableKeys) {
    const spec = methVariables[key];
    const access = makeAccessLevelFlag(spec.writable ? "CurrentRead | CurrentWrite" : "CurrentRead");
    const common = {
      browseName: methBrowseName(key),
      nodeId: `s=${spec.id}`,
      componentOf: folder,
      dataType: methDataType(key),
      minimumSamplingInterval: spec.onChange ? 0 : minimumSamplingIntervalMs,
      accessLevel: access,
      userAccessLevel: access,
    };
    const variable =
      spec.range !== undefined
        ? namespace.addAnalogDataItem({
            ...common,
            engineeringUnitsRange: spec.range,
            ...(spec.engineeringUnit !== undefined
              ? { engineeringUnits: makeEUInformation(...spec.engineeringUnit) }
              : {}),
          })
        : namespace.addVariable(common);
    variable.setValueFromSource({ dataType: methDataType(key), value: spec.initial });
    variables.set(key, variable);
  }
  return variables;
}
