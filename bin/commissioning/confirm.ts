/** A yes/no question on the terminal; anything but y or yes is no. */
import { createInterface } from "node:readline/promises";

export interface Terminal {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
}

export async function confirm(
  question: string,
  terminal: Terminal = { input: process.stdin, output: process.stderr },
): Promise<boolean> {
  const rl = createInterface({ input: terminal.input, output: terminal.output, terminal: false });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } catch {
    return false; // input closed before an answer: no
  } finally {
    rl.close();
  }
}

/** True when questions can be asked: stdin and stderr are a terminal. */
export function canAsk(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}
