/**
 * The jsmodbus calls behind one planned read (an area, an address, a count) and one write of a
 * tag's words, and the conversion of jsmodbus's replies into the words and bits the codec decodes.
 */
import type { ModbusTCPClient } from "jsmodbus";
import type { ModbusTagConfig } from "../../schemas/plant-types.ts";
import { isBitArea } from "./codec.ts";
import type { PlannedRequest } from "./request-plan.ts";
import type { AreaValues } from "./unit-tags.ts";

export async function readArea(client: ModbusTCPClient, request: PlannedRequest): Promise<AreaValues> {
  const { address, count } = request;
  switch (request.area) {
    case "holding": {
      const reply = await client.readHoldingRegisters(address, count);
      return { kind: "words", words: wordsOf(reply.response.body.valuesAsBuffer) };
    }
    case "input": {
      const reply = await client.readInputRegisters(address, count);
      return { kind: "words", words: wordsOf(reply.response.body.valuesAsBuffer) };
    }
    case "coil": {
      const reply = await client.readCoils(address, count);
      return { kind: "bits", bits: bitsOf(reply.response.body.valuesAsArray) };
    }
    case "discrete": {
      const reply = await client.readDiscreteInputs(address, count);
      return { kind: "bits", bits: bitsOf(reply.response.body.valuesAsArray) };
    }
  }
}

/** Writes a tag's words: one coil, one register, or several registers. */
export async function writeWords(
  client: ModbusTCPClient,
  tag: ModbusTagConfig,
  words: number[],
): Promise<void> {
  if (isBitArea(tag.area)) {
    await client.writeSingleCoil(tag.address, words[0] === 1);
  } else if (words.length === 1) {
    await client.writeSingleRegister(tag.address, words[0] ?? 0);
  } else {
    await client.writeMultipleRegisters(tag.address, words);
  }
}

function bitsOf(values: ReadonlyArray<boolean | number>): boolean[] {
  return values.map((v) => v === true || v === 1);
}

function wordsOf(buffer: Buffer): number[] {
  const words: number[] = [];
  for (let i = 0; i + 1 < buffer.length; i += 2) words.push(buffer.readUInt16BE(i));
  return words;
}
