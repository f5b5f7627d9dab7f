import { describe, expect, it } from "vitest";
import { inspectableContext } from "../../../machines/inspect-context.ts";

describe("what the Stately inspector is sent", () => {
  it("keeps plain figures, labels injected parts and never sends a secret", () => {
    const context = {
      attempts: 3,
      link: { read() {} },
      log: { info() {} },
      plant: {
        name: "power-to-gas",
        units: [{ name: "METH", username: "OPCUA_user_1", password: "s3cret" }],
        storage: { historian: { url: "postgres://u:pw@db/plant", schema: "plantbridge" } },
      },
    };
    const sent = JSON.stringify(inspectableContext(context));
    expect(sent).not.toContain("s3cret");
    expect(sent).not.toContain("pw@db");
    expect(sent).toContain('"attempts":3');
    expect(sent).toContain('"link":"[injected]"');
    expect(sent).toContain("OPCUA_user_1");
  });
});
