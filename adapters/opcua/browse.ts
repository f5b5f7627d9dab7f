/**
 * The address space of an OPC UA server as a tree, for `plantbridge browse`: from a start node
 * down to a depth, each node with its node id, browse name, node class and, for variables, data
 * type and access levels. One Browse (and BrowseNext) per level, one Read per level for the
 * variables' attributes, each call bounded by the unit's timeout.
 */
import {
  AttributeIds,
  BrowseDirection,
  type ClientSession,
  DataType,
  type DataValue,
  NodeClass,
  type NodeId,
  type ReferenceDescription,
  resolveNodeId,
} from "node-opcua-client";
import { NodeIdType } from "node-opcua-nodeid";
import { withDeadline } from "../../lib/deadline.ts";
import { ErrorCode, type ErrorOrigin, PlantbridgeError } from "../../lib/errors.ts";
import { severityOf, statusName } from "./status.ts";

export interface BrowsedNode {
  nodeId: string;
  /** `7:real_h2_flowrate` (namespace index and name). */
  browseName: string;
  displayName: string;
  nodeClass: string;
  /** Variables only: the data type's name (`Double`, `String[]` for an array) or node id. */
  dataType?: string;
  /** Variables only: the AccessLevel and UserAccessLevel bits. */
  accessLevel?: number;
  userAccessLevel?: number;
  children: BrowsedNode[];
  /** Children left out by the depth limit (counted, not browsed further). */
  hiddenChildren: number;
  /** The node appears earlier in the tree; its children are shown there. */
  repeated: boolean;
}

export interface BrowseOptions {
  /** Levels below the start node (1 = its children). */
  depth: number;
  timeoutMs: number;
  origin: ErrorOrigin;
}

const HIERARCHICAL_REFERENCES = resolveNodeId("ns=0;i=33");
const BATCH = 100;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export async function browseAddressSpace(
  session: ClientSession,
  start: NodeId,
  options: BrowseOptions,
): Promise<BrowsedNode> {
  const bounded = <T>(work: Promise<T>, service: string) =>
    withDeadline(
      work,
      options.timeoutMs,
      () =>
        new PlantbridgeError(
          ErrorCode.OPCUA_TIMEOUT,
          `${service}: no answer within ${options.timeoutMs} ms`,
          options.origin,
        ),
    );
  const root = await readStartNode(session, start, bounded, options.origin);
  const seen = new Set<string>([root.nodeId]);
  let level: Array<{ node: BrowsedNode; id: NodeId }> = [{ node: root, id: start }];
  for (let depth = 1; depth <= options.depth + 1 && level.length > 0; depth++) {
    const references = await browseChildren(
      session,
      level.map((l) => l.id),
      bounded,
    );
    if (depth > options.depth) {
      level.forEach((l, i) => {
        l.node.hiddenChildren = references[i]?.length ?? 0;
      });
      break;
    }
    const next: Array<{ node: BrowsedNode; id: NodeId }> = [];
    level.forEach((parent, i) => {
      for (const ref of references[i] ?? []) {
        const id = ref.nodeId.toString();
        const node: BrowsedNode = {
          nodeId: id,
          browseName: ref.browseName.toString(),
          displayName: ref.displayName.text ?? ref.browseName.name ?? "",
          nodeClass: NodeClass[ref.nodeClass] ?? String(ref.nodeClass),
          children: [],
          hiddenChildren: 0,
          repeated: seen.has(id),
        };
        parent.node.children.push(node);
        if (node.repeated) continue;
        seen.add(id);
        next.push({ node, id: resolveNodeId(id) });
      }
    });
    await readVariableAttributes(
      session,
      next.filter((n) => n.node.nodeClass === "Variable"),
      bounded,
    );
    level = next;
  }
  return root;
}

type Bounded = <T>(work: Promise<T>, service: string) => Promise<T>;

async function readStartNode(
  session: ClientSession,
  start: NodeId,
  bounded: Bounded,
  origin: ErrorOrigin,
): Promise<BrowsedNode> {
  const attributes = [AttributeIds.NodeClass, AttributeIds.BrowseName, AttributeIds.DisplayName];
  const values = await bounded(
    session.read(attributes.map((attributeId) => ({ nodeId: start, attributeId }))),
    "Read",
  );
  const nodeClass = values[0];
  if (nodeClass === undefined || severityOf(nodeClass.statusCode) !== "good") {
    const status = nodeClass ? statusName(nodeClass.statusCode) : "no answer";
    throw new PlantbridgeError(ErrorCode.OPCUA_BAD_STATUS, `node ${start.toString()}: ${status}`, origin);
  }
  const node: BrowsedNode = {
    nodeId: start.toString(),
    browseName: String(values[1]?.value.value ?? ""),
    displayName: String(values[2]?.value.value?.text ?? ""),
    nodeClass: NodeClass[nodeClass.value.value as number] ?? String(nodeClass.value.value),
    children: [],
    hiddenChildren: 0,
    repeated: false,
  };
  if (node.nodeClass === "Variable") await readVariableAttributes(session, [{ node, id: start }], bounded);
  return node;
}

/** The forward hierarchical references of each node (BrowseNext until the server has given all). */
async function browseChildren(
  session: ClientSession,
  nodes: readonly NodeId[],
  bounded: Bounded,
): Promise<ReferenceDescription[][]> {
  const all: ReferenceDescription[][] = [];
  for (const batch of chunks(nodes, BATCH)) {
    const results = await bounded(
      session.browse(
        batch.map((nodeId) => ({
          nodeId,
          referenceTypeId: HIERARCHICAL_REFERENCES,
          includeSubtypes: true,
          browseDirection: BrowseDirection.Forward,
          nodeClassMask: 0,
          resultMask: 0x3f,
        })),
      ),
      "Browse",
    );
    for (const result of results) {
      const references = [...(result.references ?? [])];
      let point = result.continuationPoint;
      while (point && point.length > 0) {
        const more = await bounded(session.browseNext(point, false), "BrowseNext");
        references.push(...(more.references ?? []));
        point = more.continuationPoint;
      }
      all.push(severityOf(result.statusCode) === "good" ? references : []);
    }
  }
  return all;
}

/** DataType, ValueRank, AccessLevel and UserAccessLevel of each variable; data type ids turned into names. */
async function readVariableAttributes(
  session: ClientSession,
  variables: ReadonlyArray<{ node: BrowsedNode; id: NodeId }>,
  bounded: Bounded,
): Promise<void> {
  const attributes = [
    AttributeIds.DataType,
    AttributeIds.ValueRank,
    AttributeIds.AccessLevel,
    AttributeIds.UserAccessLevel,
  ];
  const n = attributes.length;
  const values: DataValue[] = [];
  for (const batch of chunks(variables, BATCH)) {
    const request = batch.flatMap((v) => attributes.map((attributeId) => ({ nodeId: v.id, attributeId })));
    values.push(...(await bounded(session.read(request), "Read")));
  }
  const typeIds = new Map<string, NodeId>();
  const arrays = new Set<BrowsedNode>();
  variables.forEach((v, i) => {
    const dataType = values[i * n]?.value.value as NodeId | null | undefined;
    if (dataType) typeIds.set(dataType.toString(), dataType);
    const valueRank = values[i * n + 1]?.value.value;
    const access = values[i * n + 2]?.value.value;
    const userAccess = values[i * n + 3]?.value.value;
    if (typeof valueRank === "number" && valueRank >= 1) arrays.add(v.node);
    if (typeof access === "number") v.node.accessLevel = access;
    if (typeof userAccess === "number") v.node.userAccessLevel = userAccess;
    if (dataType) v.node.dataType = dataType.toString();
  });
  const names = await dataTypeNames(session, [...typeIds.values()], bounded);
  for (const v of variables) {
    if (v.node.dataType === undefined) continue;
    const name = names.get(v.node.dataType) ?? v.node.dataType;
    v.node.dataType = arrays.has(v.node) ? `${name}[]` : name;
  }
}

/** Built-in types by their enum name; other data types by their browse name (one Read). */
async function dataTypeNames(
  session: ClientSession,
  ids: readonly NodeId[],
  bounded: Bounded,
): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  const unknown: NodeId[] = [];
  for (const id of ids) {
    const builtIn =
      id.namespace === 0 && id.identifierType === NodeIdType.NUMERIC
        ? DataType[id.value as number]
        : undefined;
    if (builtIn !== undefined && builtIn !== "Null") names.set(id.toString(), builtIn);
    else unknown.push(id);
  }
  for (const batch of chunks(unknown, BATCH)) {
    const values = await bounded(
      session.read(batch.map((nodeId) => ({ nodeId, attributeId: AttributeIds.BrowseName }))),
      "Read",
    );
    batch.forEach((id, i) => {
      const name = values[i]?.value.value?.name;
      if (typeof name === "string") names.set(id.toString(), name);
    });
  }
  return names;
}
