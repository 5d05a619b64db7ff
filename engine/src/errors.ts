/** Every error the engine throws on bad input: a short message, the details, and what to do next. */
export class EngineError extends Error {
  readonly details: Record<string, unknown>;
  readonly hint: string;
  constructor(message: string, details: Record<string, unknown> = {}, hint = "") {
    const extra = Object.keys(details).length ? ` ${JSON.stringify(details)}` : "";
    super(`${message}${extra}${hint ? `. ${hint}` : ""}`);
    this.name = new.target.name;
    this.details = details;
    this.hint = hint;
  }
}

export class FormatError extends EngineError {}
export class ConfigError extends EngineError {}
