/** A yes/no question on the terminal; anything but y or yes is no, and so is an input that ends (Ctrl-D). */
import { createInterface } from "node:readline";

export interface Terminal {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
}

export function confirm(
  question: string,
  terminal: Terminal = { input: process.stdin, output: process.stderr },
): Promise<boolean> {
  const rl = createInterface({ input: terminal.input, output: terminal.output, terminal: false });
  return new Promise((resolve) => {
    let answered = false;
    // readline's question() never settles when the input ends first: the close is the answer then.
    rl.once("close", () => {
      if (!answered) resolve(false);
    });
    rl.question(`${question} [y/N] `, (answer) => {
      answered = true;
      rl.close();
      resolve(/^y(es)?$/i.test(answer.trim()));
    });
  });
}

/** True when questions can be asked: stdin and stderr are a terminal. */
export function canAsk(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}
