import type { Socket } from "node:net";

/**
 * The client sockets the METH server holds, tracked as its listener accepts them (node-opcua keeps
 * each channel's socket in a truly private field), so faults can drop them or stop answering them.
 */
export interface ClientSockets {
  /** Registers a socket the listener accepted. */
  accept(socket: Socket): void;
  /** Keeps every socket (open and new) from being read: requests go unanswered until `answerAgain`. */
  stopAnswering(): void;
  answerAgain(): void;
  /** Destroys every socket now. */
  destroyAll(): void;
}

export function createClientSockets(): ClientSockets {
  const open = new Set<Socket>();
  const paused = new Set<Socket>();
  let answering = true;

  function hold(socket: Socket): void {
    socket.pause();
    paused.add(socket);
  }

  return {
    accept(socket) {
      open.add(socket);
      socket.once("close", () => {
        open.delete(socket);
        paused.delete(socket);
      });
      // node-opcua resumes an accepted socket when it sets up the channel (possibly later than this
      // listener): while the server is not answering, every resume is undone before data flows.
      socket.on("resume", () => {
        if (!answering) hold(socket);
      });
      if (!answering) hold(socket);
    },
    stopAnswering() {
      answering = false;
      for (const socket of open) hold(socket);
    },
    answerAgain() {
      answering = true;
      for (const socket of paused) socket.resume();
      paused.clear();
    },
    destroyAll() {
      for (const socket of open) socket.destroy();
      open.clear();
      paused.clear();
    },
  };
}
