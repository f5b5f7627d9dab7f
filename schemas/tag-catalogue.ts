/**
 * Every tag of the plant by UNIT.tag, in file order, with `bits` status words expanded into
 * one boolean tag per named bit. The semantic checks and the normaliser share it, so both
 * see the same names in the same order.
 */
import type { RawModbusTag, RawModbusType, RawOpcuaTag, RawPlant } from "./raw-plant.ts";

export interface CataloguedTag {
  unit: string;
  name: string;
  /** Key path of the tag (or of the bit's name inside its status word). */
  path: string[];
  /** A true/false value: a bit, a bool coil/discrete, an OPC UA Boolean. */
  boolean: boolean;
  writable?: { min: number; max: number };
  /** Modbus: the register word the bit is part of, and the bit index. */
  word?: { tag: string; bit: number };
  modbus?: RawModbusTag;
  opcua?: RawOpcuaTag;
}

export interface TagClash {
  tag: CataloguedTag;
  first: CataloguedTag;
}

export interface TagCatalogue {
  /** All tags in file order. */
  all: CataloguedTag[];
  /** UNIT → tag name → tag (the first of clashing names). */
  byUnit: Map<string, Map<string, CataloguedTag>>;
  /** Names used twice inside one unit (a tag and a bit, or two bits). */
  clashes: TagClash[];
}

/** Data type of a Modbus tag with its default filled in: bool on bit areas, uint16 on registers. */
export function modbusType(tag: RawModbusTag): RawModbusType {
  return tag.type ?? (tag.area === "coil" || tag.area === "discrete" ? "bool" : "uint16");
}

export function catalogueTags(plant: RawPlant): TagCatalogue {
  const all: CataloguedTag[] = [];
  const byUnit = new Map<string, Map<string, CataloguedTag>>();
  const clashes: TagClash[] = [];
  for (const [unit, config] of Object.entries(plant.units)) {
    const names = new Map<string, CataloguedTag>();
    byUnit.set(unit, names);
    const add = (tag: CataloguedTag): void => {
      const first = names.get(tag.name);
      if (first !== undefined) {
        clashes.push({ tag, first });
        return;
      }
      names.set(tag.name, tag);
      all.push(tag);
    };
    const tagsPath = ["units", unit, "tags"];
    if (config.protocol === "modbus-tcp") {
      for (const [name, tag] of Object.entries(config.tags)) {
        const type = modbusType(tag);
        if (type === "bits") {
          for (const [bit, bitName] of Object.entries(tag.bits ?? {})) {
            add({
              unit,
              name: bitName,
              path: [...tagsPath, name, "bits", bit],
              boolean: true,
              word: { tag: name, bit: Number(bit) },
              modbus: tag,
            });
          }
        } else {
          add({
            unit,
            name,
            path: [...tagsPath, name],
            boolean: type === "bool",
            ...(tag.writable ? { writable: tag.writable } : {}),
            modbus: tag,
          });
        }
      }
    } else {
      for (const [name, tag] of Object.entries(config.tags)) {
        add({
          unit,
          name,
          path: [...tagsPath, name],
          boolean: tag.dataType === "Boolean",
          ...(tag.writable ? { writable: tag.writable } : {}),
          opcua: tag,
        });
      }
    }
  }
  return { all, byUnit, clashes };
}

/** Looks up `UNIT.tag`; a message naming what is missing when it is not there. */
export function findTag(catalogue: TagCatalogue, ref: string): CataloguedTag | string {
  const dot = ref.indexOf(".");
  const unit = ref.slice(0, dot);
  const name = ref.slice(dot + 1);
  const tags = catalogue.byUnit.get(unit);
  if (tags === undefined) {
    const units = [...catalogue.byUnit.keys()].join(", ");
    return `unknown unit "${unit}" in ${ref} (the units are: ${units})`;
  }
  const tag = tags.get(name);
  if (tag === undefined) return `unknown tag ${ref}: unit ${unit} has no tag "${name}"`;
  return tag;
}
