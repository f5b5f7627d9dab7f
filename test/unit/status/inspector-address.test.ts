import { describe, expect, it } from "vitest";
import { parseCommon } from "../../../bin/cli-options.ts";
import { defaultInspectAddress, startInspector } from "../../../bin/runtime/inspector.ts";
import { silentLog } from "../../../lib/log.ts";

describe("--inspect", () => {
  it("binds the Stately inspector's server to loopback by default, and elsewhere only when asked", async () => {
    expect(parseCommon(["--inspect"]).inspect).toEqual({ host: "127.0.0.1", port: 4242 });
    expect(parseCommon(["--inspect=4300"]).inspect).toEqual({ host: "127.0.0.1", port: 4300 });
    expect(parseCommon(["--inspect=0.0.0.0:4300"]).inspect).toEqual({ host: "0.0.0.0", port: 4300 });
    expect(parseCommon([]).inspect).toBeUndefined();
    expect(parseCommon(["--inspect=127.0.0.1:0"]).inspect).toEqual({ host: "127.0.0.1", port: 0 });
    expect(() => parseCommon(["--inspect=70000"])).toThrow(/--inspect wants/);
    expect(() => parseCommon(["--inspect=a:b"])).toThrow(/--inspect wants/);
    expect(defaultInspectAddress.host).toBe("127.0.0.1");

    const inspector = await startInspector({ ...defaultInspectAddress, port: 0 }, silentLog());
    try {
      expect(inspector.address).toBe("127.0.0.1");
      expect(inspector.port).toBeGreaterThan(0);
      expect(inspector.url).toBe(`http://127.0.0.1:${inspector.port}/`);
      const page = await fetch(inspector.url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("stately.ai/inspect");
    } finally {
      inspector.stop();
    }
  });

  it("says which address is taken instead of crashing", async () => {
    const first = await startInspector({ host: "127.0.0.1", port: 0 }, silentLog());
    try {
      await expect(startInspector({ host: "127.0.0.1", port: first.port }, silentLog())).rejects.toThrow(
        /--inspect: cannot listen on 127\.0\.0\.1:\d+/,
      );
    } finally {
      first.stop();
    }
  });
});
