/** Modbus exception codes (Modbus application protocol v1.1b3, section 7) and how plantbridge names them. */

export const modbusExceptionNames: Readonly<Record<number, string>> = {
  1: "illegal function",
  2: "illegal data address",
  3: "illegal data value",
  4: "server device failure",
  5: "acknowledge",
  6: "server device busy",
  8: "memory parity error",
  10: "gateway path unavailable",
  11: "gateway target device failed to respond",
};

/** `Modbus exception 2 (illegal data address)`: the reason a bad-quality reading carries. */
export function modbusExceptionReason(code: number): string {
  return `Modbus exception ${code} (${modbusExceptionNames[code] ?? "unknown exception code"})`;
}
