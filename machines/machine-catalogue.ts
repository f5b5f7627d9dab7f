/**
 * The plant's machine definitions by name: what `plantbridge diagrams` writes and what the
 * status page draws (each live actor is drawn on the definition of its logic's id).
 */
import type { AnyStateMachine } from "xstate";
import { connectionMachine } from "./connection.machine.ts";
import { controlMachine } from "./control.machine.ts";
import { forwarderMachine } from "./forwarder.machine.ts";
import { plantMachine } from "./plant.machine.ts";
import { pushMachine } from "./push.machine.ts";
import { storageMachine } from "./storage.machine.ts";

export const machineDefinitions: Readonly<Record<string, AnyStateMachine>> = {
  plant: plantMachine,
  connection: connectionMachine,
  push: pushMachine,
  control: controlMachine,
  storage: storageMachine,
  forwarder: forwarderMachine,
};
