/** A kernel that cannot be created here: a missing native library, a failed build. */
export class KernelUnavailableError extends Error {
  override readonly name = "KernelUnavailableError";
  readonly kernel: string;
  readonly hint: string;
  constructor(kernel: string, details: string, hint: string, cause?: unknown) {
    super(`kernel "${kernel}" is unavailable: ${details}. ${hint}.`, { cause });
    this.kernel = kernel;
    this.hint = hint;
  }
}

/** createKernel was given a name that is not a kernel. */
export class UnknownKernelError extends Error {
  override readonly name = "UnknownKernelError";
  readonly kernel: string;
  constructor(kernel: string, known: readonly string[]) {
    super(`unknown kernel "${kernel}". Use one of: ${known.join(", ")}.`);
    this.kernel = kernel;
  }
}
