// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders of plant files are plain text here
import { describe, expect, it } from "vitest";
import { loadPlantText, PlantConfigError } from "../../../schemas/load-plant.ts";

const units = `
units:
  PEMEL:
    protocol: modbus-tcp
    host: 127.0.0.1
    tags:
      power: { area: holding, address: 0x8065, type: uint16 }
`;

function load(http: string, env: Record<string, string> = {}) {
  return loadPlantText(`plant: p\n${units}${http}`, "plant.yaml", { env });
}

function problems(http: string): string[] {
  try {
    load(http);
  } catch (e) {
    if (e instanceof PlantConfigError) return e.problems.map((p) => p.describe());
    throw e;
  }
  return [];
}

describe("the plant file's http:", () => {
  it("defaults to 127.0.0.1:8480 without a token", () => {
    expect(load("").http).toEqual({ host: "127.0.0.1", port: 8480 });
  });

  it("takes host, port and a token from the environment, or false", () => {
    const http = load("http:\n  host: 0.0.0.0\n  port: 9000\n  token: ${PB_HTTP_TOKEN}\n", {
      PB_HTTP_TOKEN: "1234567890123456789",
    }).http;
    expect(http).toEqual({ host: "0.0.0.0", port: 9000, token: "1234567890123456789" });
    expect(load("http: false\n").http).toBe(false);
    expect(load('http: { token: "${PB_HTTP_TOKEN:-}" }\n').http).toEqual({ host: "127.0.0.1", port: 8480 });
  });

  it("refuses unknown keys, ports out of range and http: true, naming the place", () => {
    expect(problems("http: { hots: 0.0.0.0 }\n").join("\n")).toMatch(/plant\.yaml:\d+:\d+ http/);
    expect(problems("http: { port: 70000 }\n").join("\n")).toMatch(/plant\.yaml:\d+:\d+ http\.port/);
    expect(problems("http: true\n")).not.toEqual([]);
  });

  it("never puts a substituted token into a message", () => {
    let text = "";
    try {
      load("http:\n  port: nope\n  token: ${PB_HTTP_TOKEN}\n  extra: ${PB_HTTP_TOKEN}\n", {
        PB_HTTP_TOKEN: "s3cret-token-value",
      });
    } catch (e) {
      if (!(e instanceof PlantConfigError)) throw e;
      text = e.problems.map((p) => p.describe()).join("\n");
    }
    expect(text).toMatch(/http\.port/);
    expect(text).not.toContain("s3cret-token-value");
  });
});
