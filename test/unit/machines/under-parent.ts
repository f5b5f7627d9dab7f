/**
 * Runs a machine that talks to its parent (`sendParent`) under a parent that records what it
 * receives, on the given simulated clock: how the connection, push and storage machines are
 * tested on their own.
 */
import {
  type ActorRefFrom,
  type AnyActorLogic,
  type AnyEventObject,
  type AnyStateMachine,
  createActor,
  type InputFrom,
  type SimulatedClock,
  setup,
} from "xstate";

export interface UnderParent<TLogic extends AnyStateMachine> {
  child: ActorRefFrom<TLogic>;
  /** Every event the parent received from the child, in order (XState's own events left out). */
  received: AnyEventObject[];
  stop(): void;
}

export function startUnderParent<TLogic extends AnyStateMachine>(
  logic: TLogic,
  input: InputFrom<TLogic>,
  clock: SimulatedClock,
): UnderParent<TLogic> {
  const received: AnyEventObject[] = [];
  const parent = setup({ actors: { child: logic as AnyActorLogic } }).createMachine({
    invoke: { id: "child", src: "child", input: () => input as never },
    on: {
      "*": {
        actions: ({ event }) => {
          if (!event.type.startsWith("xstate.")) received.push(event);
        },
      },
    },
  });
  const actor = createActor(parent, { clock });
  actor.start();
  const child = actor.getSnapshot().children.child as ActorRefFrom<TLogic>;
  return { child, received, stop: () => actor.stop() };
}
