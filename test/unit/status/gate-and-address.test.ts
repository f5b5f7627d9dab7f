import { describe, expect, it } from "vitest";
import { isPlantbridgeError } from "../../../lib/errors.ts";
import { effectiveHttp, isLoopback, pageUrl, parseHttpOption } from "../../../status/address.ts";
import { cookieValue, createGate } from "../../../status/auth.ts";

const token = "0123456789abcdef-token";

describe("--http [HOST:]PORT", () => {
  it.each([
    ["8480", { port: 8480 }],
    ["0", { port: 0 }],
    ["127.0.0.1:0", { host: "127.0.0.1", port: 0 }],
    ["0.0.0.0:8480", { host: "0.0.0.0", port: 8480 }],
    ["[::1]:9000", { host: "::1", port: 9000 }],
    ["localhost:8481", { host: "localhost", port: 8481 }],
  ])("%s", (text, parsed) => {
    expect(parseHttpOption(text)).toEqual(parsed);
  });

  it.each(["", "abc", "127.0.0.1:", "127.0.0.1:70000", ":80", "1.2.3.4:80:90"])("refuses %j", (text) => {
    expect(() => parseHttpOption(text)).toThrow(/--http wants \[HOST:\]PORT/);
  });

  it("overrides the plant file's address, keeps its token, and turns a server the file switched off on", () => {
    expect(effectiveHttp({ host: "127.0.0.1", port: 8480, token }, "0.0.0.0:9000")).toEqual({
      host: "0.0.0.0",
      port: 9000,
      token,
    });
    expect(effectiveHttp({ host: "10.0.0.5", port: 8480 }, "0")).toEqual({ host: "10.0.0.5", port: 0 });
    expect(effectiveHttp(false, undefined)).toBe(false);
    expect(effectiveHttp(false, "8490")).toEqual({ host: "127.0.0.1", port: 8490 });
  });

  it("knows loopback addresses and prints a URL a person can open", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"])
      expect(isLoopback(host), host).toBe(true);
    for (const host of ["0.0.0.0", "::", "10.0.6.65", "192.168.1.2", "plant-pc"])
      expect(isLoopback(host), host).toBe(false);
    expect(pageUrl("0.0.0.0", 8480)).toBe("http://127.0.0.1:8480/");
    expect(pageUrl("::1", 8480)).toBe("http://[::1]:8480/");
  });
});

describe("the status server's gate", () => {
  it("refuses to serve beyond loopback without a token, naming http.token", () => {
    for (const host of ["0.0.0.0", "10.0.6.5", "::"]) {
      let error: unknown;
      try {
        createGate(host, undefined);
      } catch (e) {
        error = e;
      }
      expect(isPlantbridgeError(error, "PB_ERR_CONFIG"), host).toBe(true);
      expect(String((error as Error).message)).toContain("http.token");
    }
    expect(() => createGate("0.0.0.0", "short")).toThrow(/at least 16 characters/);
    expect(() => createGate("0.0.0.0", token)).not.toThrow();
  });

  it("without a token, serves only requests addressed to a loopback name (no DNS rebinding)", () => {
    const gate = createGate("127.0.0.1", undefined);
    expect(gate.tokenRequired).toBe(false);
    expect(gate.check({ host: "127.0.0.1:8480" })).toBe("ok");
    expect(gate.check({ host: "localhost:8480" })).toBe("ok");
    expect(gate.check({ host: "[::1]:8480" })).toBe("ok");
    expect(gate.check({ host: "evil.example:8480" })).toBe("bad-host");
    expect(gate.check({})).toBe("bad-host");
  });

  it("with a token, accepts it as a bearer, a query parameter or the session cookie, and nothing else", () => {
    const gate = createGate("0.0.0.0", token);
    expect(gate.check({ host: "plant-pc:8480" })).toBe("unauthorised");
    expect(gate.check({ authorization: `Bearer ${token}` })).toBe("ok");
    expect(gate.check({ authorization: `bearer ${token}` })).toBe("ok");
    expect(gate.check({ authorization: `Bearer ${token}x` })).toBe("unauthorised");
    expect(gate.check({ authorization: `Basic ${token}` })).toBe("unauthorised");
    expect(gate.check({ token })).toBe("ok");
    expect(gate.check({ cookie: `a=b; plantbridge_session=${gate.sessionValue()}` })).toBe("ok");
    expect(gate.check({ cookie: `plantbridge_session=${token}` })).toBe("unauthorised");
    expect(gate.sessionValue()).not.toContain(token);
    expect(cookieValue("a=1; b=%20x", "b")).toBe(" x");
  });
});
