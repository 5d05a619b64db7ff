// Errors the stack reports to a person: a short message, the details, and what to do next.

export class StackError extends Error {
  readonly details: string | undefined;
  readonly hint: string | undefined;
  constructor(message: string, opts: { details?: string; hint?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "StackError";
    this.details = opts.details;
    this.hint = opts.hint;
  }

  /** The message, details and hint as lines for a terminal. */
  describe(): string {
    const lines = [this.message];
    if (this.details) lines.push(...this.details.split("\n").map((l) => `  ${l}`));
    if (this.hint) lines.push(`-> ${this.hint}`);
    return lines.join("\n");
  }
}

export class PortInUseError extends StackError {
  constructor(port: number, host: string, service: string, envVar: string) {
    super(`port ${port} on ${host} (${service}) is already in use`, {
      hint: `stop whatever listens on ${host}:${port} (e.g. an earlier stack), or pick another port: ${envVar}=<port> npm start`,
    });
    this.name = "PortInUseError";
  }
}

export class ServiceNotReadyError extends StackError {
  constructor(service: string, reason: string, logFile: string, logTail: string) {
    super(`${service} did not become ready: ${reason}`, {
      details: logTail ? `last lines of ${logFile}:\n${logTail}` : `its log is empty: ${logFile}`,
      hint: `read ${logFile}; then run \`npm start\` again (add \`-- --fresh\` to start from an empty .tributary/)`,
    });
    this.name = "ServiceNotReadyError";
  }
}

export class TaskFailedError extends StackError {
  constructor(task: string, exit: string, logFile: string, logTail: string) {
    super(`${task} failed (${exit})`, {
      details: logTail ? `last lines of ${logFile}:\n${logTail}` : `its log is empty: ${logFile}`,
      hint: `read ${logFile}, fix the cause, and run \`npm start\` again`,
    });
    this.name = "TaskFailedError";
  }
}
