/**
 * What the Modbus scale simulator serves: register `r` of unit `u` (0-based unit index) holds
 * `(u · 4099 + r · 257 + tick) mod 65536`, where `tick` counts the changes since the simulator
 * started (one every `changeEveryMs`). Deterministic, and invertible: from a stored value, the
 * unit and the register, `tickOf` says which tick was served, so a test can hold every stored value
 * against the simulator's record of what it served. Neighbouring registers and units differ, so a
 * value stored under the wrong register or unit decodes to a tick that was never served.
 */

const unitStep = 4099;
const registerStep = 257;

export function scaleValue(unitIndex: number, register: number, tick: number): number {
  return (unitIndex * unitStep + register * registerStep + tick) & 0xffff;
}

/** The tick (mod 65536) at which `value` was served for that unit and register. */
export function tickOf(unitIndex: number, register: number, value: number): number {
  return (value - unitIndex * unitStep - register * registerStep) & 0xffff;
}
