import { StatusCodes } from "node-opcua";
import { describe, expect, it } from "vitest";
import {
  connectError,
  serviceError,
  severityOf,
  statusName,
  statusNameInError,
  withoutSecret,
} from "../../../adapters/opcua/status.ts";
import { ErrorCode, PlantbridgeError } from "../../../lib/errors.ts";

const origin = { unit: "METH" };

describe("OPC UA status codes", () => {
  it("reads the severity from the top bits", () => {
    expect(severityOf(StatusCodes.Good)).toBe("good");
    expect(severityOf(StatusCodes.GoodClamped)).toBe("good");
    expect(severityOf(StatusCodes.UncertainLastUsableValue)).toBe("uncertain");
    expect(severityOf(StatusCodes.BadSensorFailure)).toBe("bad");
    expect(severityOf(StatusCodes.BadNodeIdUnknown)).toBe("bad");
  });

  it("names a status", () => {
    expect(statusName(StatusCodes.BadNodeIdUnknown)).toBe("BadNodeIdUnknown");
  });

  it("finds the status name in a node-opcua error message", () => {
    expect(statusNameInError(new Error("BadUserAccessDenied (0x801f0000)"))).toBe("BadUserAccessDenied");
    expect(statusNameInError(new Error(" serviceResult = BadSessionIdInvalid (0x80250000)"))).toBe(
      "BadSessionIdInvalid",
    );
    expect(statusNameInError(new Error("socket hang up"))).toBeUndefined();
  });
});

describe("connect errors", () => {
  it("maps a refused identity to PB_ERR_OPCUA_AUTH without the password", () => {
    const e = connectError(new Error("BadUserAccessDenied (0x801f0000) for hunter2"), origin, "hunter2");
    expect(e.code).toBe(ErrorCode.OPCUA_AUTH);
    expect(e.message).not.toContain("hunter2");
    expect(connectError(new Error("BadIdentityTokenRejected"), origin).code).toBe(ErrorCode.OPCUA_AUTH);
    expect(
      connectError(new Error("Cannot find ANONYMOUS user token policy in end point description"), origin)
        .code,
    ).toBe(ErrorCode.OPCUA_AUTH);
  });

  it("maps timeouts and everything else", () => {
    expect(connectError(new Error("Transaction has timed out ( timeout = 5000 ms )"), origin).code).toBe(
      ErrorCode.OPCUA_TIMEOUT,
    );
    const other = connectError(new Error("connect ECONNREFUSED 127.0.0.1:4840\nstack"), origin);
    expect(other.code).toBe(ErrorCode.OPCUA_CONNECT);
    expect(other.message).toBe("connect failed: connect ECONNREFUSED 127.0.0.1:4840");
    expect(other.origin).toEqual(origin);
  });

  it("passes coded errors through", () => {
    const coded = new PlantbridgeError(ErrorCode.OPCUA_TIMEOUT, "late", origin);
    expect(connectError(coded, origin)).toBe(coded);
  });
});

describe("service errors", () => {
  it("a timeout rejects with PB_ERR_OPCUA_TIMEOUT and loses the link", () => {
    const f = serviceError(new Error("Transaction has timed out"), "Read", origin);
    expect(f.error.code).toBe(ErrorCode.OPCUA_TIMEOUT);
    expect(f.linkLost).toBe(true);
  });

  it("a session or channel status loses the link", () => {
    for (const m of [
      "BadSessionIdInvalid (0x80250000)",
      "BadSecureChannelClosed",
      "BadConnectionClosed",
      "premature socket termination",
    ]) {
      const f = serviceError(new Error(m), "Read", origin);
      expect(f.linkLost, m).toBe(true);
      expect(f.error.code, m).toBe(ErrorCode.LINK_LOST);
    }
  });

  it("any other Bad status rejects with PB_ERR_OPCUA_BAD_STATUS, the link stays", () => {
    const f = serviceError(new Error("BadTooManyOperations (0x80100000)"), "Read", {
      unit: "METH",
      tag: "t",
    });
    expect(f.error.code).toBe(ErrorCode.OPCUA_BAD_STATUS);
    expect(f.error.origin).toEqual({ unit: "METH", tag: "t" });
    expect(f.linkLost).toBe(false);
  });

  it("masks a secret in any message", () => {
    expect(withoutSecret("user:pw@host pw", "pw")).toBe("user:***@host ***");
    expect(withoutSecret("nothing", undefined)).toBe("nothing");
  });
});
