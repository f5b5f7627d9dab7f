import { describe, expect, it } from "vitest";
import { resolveTagNodeId, resolveTagNodeIds, usesNamespaceUri } from "../../../adapters/opcua/node-ids.ts";

const namespaces = [
  "http://opcfoundation.org/UA/",
  "urn:plc:own",
  "urn:p2",
  "urn:p3",
  "urn:p4",
  "urn:p5",
  "urn:p6",
  "urn:plantbridge:sim:meth",
];

describe("tag node ids", () => {
  it("takes the ns= form as it is, string identifiers with colons included", () => {
    const r = resolveTagNodeId("ns=7;s=::AsGlobalPV:real_h2_flowrate", []);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.nodeId.namespace).toBe(7);
      expect(r.nodeId.value).toBe("::AsGlobalPV:real_h2_flowrate");
      expect(r.nodeId.toString()).toBe("ns=7;s=::AsGlobalPV:real_h2_flowrate");
    }
  });

  it("resolves nsu= through the namespace array", () => {
    const r = resolveTagNodeId("nsu=urn:plantbridge:sim:meth;s=::AsGlobalPV:real_pressure", namespaces);
    expect(r.ok && r.nodeId.toString()).toBe("ns=7;s=::AsGlobalPV:real_pressure");
    const numeric = resolveTagNodeId("nsu=urn:p3;i=1234", namespaces);
    expect(numeric.ok && numeric.nodeId.toString()).toBe("ns=3;i=1234");
  });

  it("keeps a URI with colons and semicolon-free parts whole", () => {
    const r = resolveTagNodeId("nsu=http://opcfoundation.org/UA/;i=2258", namespaces);
    expect(r.ok && r.nodeId.toString()).toBe("ns=0;i=2258");
  });

  it("names the missing namespace as BadNodeIdUnknown", () => {
    const r = resolveTagNodeId("nsu=urn:elsewhere;s=x", namespaces);
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/^BadNodeIdUnknown .*urn:elsewhere/) });
  });

  it("reports text that is no node id as BadNodeIdInvalid", () => {
    expect(resolveTagNodeId("nsu=urn:x", namespaces)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^BadNodeIdInvalid/),
    });
    expect(resolveTagNodeId("ns=7;q=what", namespaces)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^BadNodeIdInvalid/),
    });
  });

  it("knows which form needs the namespace array, and resolves a tag list by name", () => {
    expect(usesNamespaceUri("nsu=urn:x;s=a")).toBe(true);
    expect(usesNamespaceUri("ns=7;s=a")).toBe(false);
    const all = resolveTagNodeIds(
      [
        { name: "a", nodeId: "ns=7;s=a" },
        { name: "b", nodeId: "nsu=urn:nowhere;s=b" },
      ],
      namespaces,
    );
    expect([...all.keys()]).toEqual(["a", "b"]);
    expect(all.get("a")?.ok).toBe(true);
    expect(all.get("b")?.ok).toBe(false);
  });
});
