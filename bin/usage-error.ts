/** The command line itself is wrong (a missing or unknown argument): exit code 2, with the message. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
