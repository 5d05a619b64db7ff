// Errors of the chain layer. Each says what went wrong, carries the details, and says what to do next.

/** The RPC endpoint serves a different chain than the one configured. */
export class WrongChainError extends Error {
  readonly expected: number;
  readonly actual: number;
  readonly rpcUrl: string;
  constructor(expected: number, actual: number, rpcUrl: string) {
    super(
      `Wrong chain: expected chain id ${expected} but ${rpcUrl} serves chain id ${actual}. ` +
        `Point --rpc / TRIBUTARY_RPC_URL at a node of chain ${expected}, or pass --chain-id ${actual} (TRIBUTARY_CHAIN_ID) if that chain is intended.`,
    );
    this.name = "WrongChainError";
    this.expected = expected;
    this.actual = actual;
    this.rpcUrl = rpcUrl;
  }
}

/** The RPC endpoint did not answer. */
export class RpcUnreachableError extends Error {
  readonly rpcUrl: string;
  constructor(rpcUrl: string, cause: unknown) {
    super(
      `Cannot reach the chain at ${rpcUrl}: ${cause instanceof Error ? cause.message.split("\n")[0].replace(/\.+$/, "") : String(cause)}. ` +
        "Start the node (npm start) or pass the right --rpc / TRIBUTARY_RPC_URL.",
      { cause },
    );
    this.name = "RpcUnreachableError";
    this.rpcUrl = rpcUrl;
  }
}

/** No deployments file for the chain, or it is malformed, or it lacks a contract. */
export class DeploymentsError extends Error {
  readonly path: string;
  constructor(path: string, reason: string) {
    super(
      `Deployments ${path}: ${reason}. Run \`npm run deploy\` against this chain, or pass --deployments <file> (TRIBUTARY_DEPLOYMENTS).`,
    );
    this.name = "DeploymentsError";
    this.path = path;
  }
}

/** A transaction needs a wallet and none was configured. */
export class NoWalletError extends Error {
  constructor(action: string) {
    super(
      `${action} sends a transaction and needs a wallet. Set TRIBUTARY_PRIVATE_KEY, or pass --keystore <file> ` +
        "(TRIBUTARY_KEYSTORE) with its password in TRIBUTARY_KEYSTORE_PASSWORD.",
    );
    this.name = "NoWalletError";
  }
}

/** A private key or keystore could not be used. Never carries key material. */
export class WalletError extends Error {
  constructor(reason: string, next: string) {
    super(`${reason}. ${next}`);
    this.name = "WalletError";
  }
}

/**
 * A contract call reverted. `errorName`/`args` are the decoded custom error (when the ABI knows it);
 * the message is a sentence saying what the contract refused and what to do.
 */
export class ContractRevertError extends Error {
  readonly contract: string;
  readonly functionName: string;
  readonly errorName?: string;
  readonly args: Record<string, unknown>;
  readonly reason: string;
  constructor(opts: {
    contract: string;
    functionName: string;
    errorName?: string;
    args?: Record<string, unknown>;
    reason: string;
    cause?: unknown;
  }) {
    super(`${opts.contract}.${opts.functionName} reverted: ${opts.reason}`, { cause: opts.cause });
    this.name = "ContractRevertError";
    this.contract = opts.contract;
    this.functionName = opts.functionName;
    this.errorName = opts.errorName;
    this.args = opts.args ?? {};
    this.reason = opts.reason;
  }
}

/** A transaction was mined but failed (status reverted) without a decodable reason. */
export class TransactionFailedError extends Error {
  readonly hash: string;
  constructor(hash: string, what: string) {
    super(
      `Transaction ${hash} (${what}) was mined but reverted. Inspect it with the node's trace tools; the state may have changed since simulation.`,
    );
    this.name = "TransactionFailedError";
    this.hash = hash;
  }
}

/** Something looked up on chain does not exist. */
export class NotFoundError extends Error {
  constructor(what: string, next: string) {
    super(`${what} not found. ${next}`);
    this.name = "NotFoundError";
  }
}
