// Custom-error decoding: a revert becomes its error name, named arguments and a sentence a person can act on.
import { BaseError, ContractFunctionRevertedError, formatEther } from "viem";
import type { Abi } from "viem";

type AbiError = Extract<Abi[number], { type: "error" }>;
import * as abis from "./generated/abis.ts";
import { ContractRevertError } from "./errors.ts";

/** Errors raised by the OpenZeppelin code inside the contracts (token transfers, roles, ERC-721). */
const OPENZEPPELIN_ERRORS = [
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)",
  "error ERC20InvalidSender(address sender)",
  "error ERC20InvalidReceiver(address receiver)",
  "error ERC2612ExpiredSignature(uint256 deadline)",
  "error ERC2612InvalidSigner(address signer, address owner)",
  "error ERC721NonexistentToken(uint256 tokenId)",
  "error ERC721IncorrectOwner(address sender, uint256 tokenId, address owner)",
  "error ERC721InsufficientApproval(address operator, uint256 tokenId)",
  "error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)",
  "error SafeERC20FailedOperation(address token)",
  "error ReentrancyGuardReentrantCall()",
  "error EnforcedPause()",
  "error ECDSAInvalidSignature()",
  "error ECDSAInvalidSignatureLength(uint256 length)",
  "error SafeCastOverflowedUintDowncast(uint8 bits, uint256 value)",
] as const;

function parseErrorSignature(sig: string): AbiError {
  const m = /^error (\w+)\((.*)\)$/.exec(sig)!;
  const inputs = m[2]
    ? m[2].split(", ").map((p) => {
        const [type, name] = p.split(" ");
        return { type, name };
      })
    : [];
  return { type: "error", name: m[1], inputs } as AbiError;
}

/** Every custom error any Tributary contract can raise, deduplicated by signature. */
export const errorAbi: readonly AbiError[] = (() => {
  const seen = new Map<string, AbiError>();
  const all = [
    ...Object.values(abis).flatMap((abi) => (abi as Abi).filter((e): e is AbiError => e.type === "error")),
    ...OPENZEPPELIN_ERRORS.map(parseErrorSignature),
  ];
  for (const e of all) seen.set(`${e.name}(${e.inputs.map((i) => i.type).join(",")})`, e);
  return [...seen.values()];
})();

/** Adds the shared error ABI to a contract ABI, so reverts from nested calls (token, roles) decode too. */
export function withErrors<const A extends Abi>(abi: A): A {
  return [...abi, ...errorAbi] as unknown as A;
}

const POLICIES = ["Open", "Approval", "Paid"];
const CONTRIBUTION_STATUS = ["None", "Pending", "Approved", "Rejected", "Withdrawn"];
const JOB_STATUS = ["None", "Open", "Claimed", "Submitted", "Disputed", "Finalized", "Cancelled", "Refunded"];

const open = (v: unknown) => `${formatEther(BigInt(v as bigint))} OPEN`;
const time = (v: unknown) => {
  const ms = Number(v) * 1000;
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(v);
};
const status = (names: string[], v: unknown) => names[Number(v)] ?? String(v);

type Args = Record<string, unknown>;
/** One sentence per custom error: what the contract refused, and what to do about it. */
const SENTENCES: Record<string, (a: Args) => string> = {
  DatanetNotFound: (a) =>
    `Datanet ${a.datanetId} does not exist. List Datanets with \`tributary datanet list\`.`,
  ContributionNotFound: (a) =>
    `Datanet ${a.datanetId} has no contribution ${a.contributionId}. Check the id with \`tributary datanet show ${a.datanetId}\`.`,
  NotDatanetOwner: (a) => `${a.account} is not the owner of Datanet ${a.datanetId}. Use the owner's wallet.`,
  NotCurator: (a) =>
    `${a.account} is not a curator of Datanet ${a.datanetId}. Use a curator's wallet, or ask the owner to add you as a curator.`,
  AlreadyCurator: (a) => `${a.account} is already a curator of Datanet ${a.datanetId}.`,
  NotContributor: (a) =>
    `${a.account} did not submit contribution ${a.contributionId} of Datanet ${a.datanetId}; only its contributor can withdraw it.`,
  InvalidContributionStatus: (a) =>
    `Contribution ${a.contributionId} of Datanet ${a.datanetId} is ${status(CONTRIBUTION_STATUS, a.status)}, which does not allow this. Only pending contributions can be reviewed; only pending or approved ones withdrawn.`,
  EmptyCID: () => "A CID argument was empty. Pass the IPFS CID of the document.",
  EmptyContribution: (a) =>
    `A contribution needs at least one record and one byte (got ${a.records} records, ${a.byteSize} bytes). Check the file is not empty.`,
  InvalidPrice: (a) =>
    `Price ${a.price} is not valid for a ${status(POLICIES, a.policy)} Datanet: Paid Datanets need a price above 0, others a price of 0.`,
  TooManyCurators: (a) => `${a.count} curators is more than the maximum of ${a.max}.`,
  BatchTooLarge: (a) =>
    `A batch of ${a.count} items exceeds the maximum of ${a.max}. Split it into smaller batches.`,
  ZeroAddress: () => "The zero address was given where an account is needed.",
  AccessDenied: (a) =>
    `${a.account} has no valid access to Datanet ${a.datanetId}. Request access (\`tributary access request ${a.datanetId}\`), buy it for Paid Datanets, or wait for a curator's grant.`,
  NotPaidDatanet: (a) =>
    Number(a.policy) === 0
      ? `Datanet ${a.datanetId} is Open: anyone may train on it, no access is needed.`
      : `Access to Datanet ${a.datanetId} cannot be bought: its policy is ${status(POLICIES, a.policy)}. Request access instead.`,
  InvalidGrant: (a) =>
    `A grant must expire in the future and carry at least one use (expiry ${time(a.expiresAt)}, ${a.uses} uses, chain time ${time(a.timestamp)}).`,
  ZeroUses: () => "At least one use must be bought.",
  ZeroDuration: () => "A duration of zero was given.",
  ZeroAmount: () => "An amount of zero was given; pass an amount above 0.",
  InsufficientStake: (a) =>
    `Trainer ${a.trainer} has ${open(a.available)} staked, less than the ${open(a.needed)} needed. Stake more with \`tributary trainer stake\`.`,
  CooldownActive: (a) =>
    `The unstake cooldown of ${a.trainer} ends at ${time(a.availableAt)}. Try again after that.`,
  NothingToWithdraw: (a) => `Nothing to withdraw for ${a.trainer ?? a.account ?? a.channelId}.`,
  InsufficientFreeStake: (a) =>
    `Trainer ${a.trainer} has ${open(a.free)} of stake not locked as collateral of its claimed jobs, less than the ${open(a.needed)} needed. Stake more with \`tributary trainer stake\`, or finish a claimed job first.`,
  NoFaultCauseUnproven: (a) =>
    `Contribution ${a.contributionId} of Datanet ${a.datanetId} is not in job ${a.jobId}'s Datanet version or was not withdrawn after the claim, so the job cannot be released without a fee. Use \`releaseJob\` (fee) instead.`,
  PriceAboveMax: (a) =>
    `Datanet ${a.datanetId} now costs ${open(a.price)} per use, above your maximum of ${open(a.maxPrice)}. Check the price and buy again if it suits you.`,
  NotModelRegistry: (a) => `${a.account} is not the ModelRegistry; only it reports model transfers.`,
  KeyRotationPending: (a) =>
    `The session key of channel ${a.channelId} was replaced recently; the replaced key stays valid until ${time(a.until)}. Replace it again after that.`,
  PenaltyExceedsCollateral: (a) => `A penalty of ${open(a.penalty)} exceeds the job's collateral of ${open(a.collateral)}.`,
  NoActiveJobs: (a) => `Trainer ${a.trainer} holds no claimed job.`,
  JobNotFound: (a) => `Job ${a.jobId} does not exist.`,
  InvalidJobStatus: (a) =>
    `Job ${a.jobId} is ${status(JOB_STATUS, a.status)}, but this needs it ${status(JOB_STATUS, a.expected)}. Check it with \`tributary job status ${a.jobId}\`.`,
  NotPoster: (a) => `${a.account} did not post job ${a.jobId}; only its poster can do this.`,
  NotTrainer: (a) => `${a.account} is not the trainer of job ${a.jobId}.`,
  DeadlinePassed: (a) => `The deadline of job ${a.jobId} passed at ${time(a.dueAt)}.`,
  DeadlineNotPassed: (a) => `The deadline of job ${a.jobId} is ${time(a.dueAt)}; it has not passed yet.`,
  ChallengeWindowOpen: (a) =>
    `The challenge window of job ${a.jobId} is open until ${time(a.challengeEndsAt)}; accept early as the poster or wait.`,
  ChallengeWindowClosed: (a) =>
    `The challenge window of job ${a.jobId} closed at ${time(a.challengeEndsAt)}; the result can no longer be disputed.`,
  InvalidDatanetCount: (a) => `A job needs between 1 and ${a.max} Datanets (got ${a.count}).`,
  LengthMismatch: (a) =>
    a.datanets !== undefined
      ? `${a.datanets} Datanets but ${a.versions} versions were given; give one version per Datanet.`
      : "Array arguments differ in length.",
  DuplicateDatanet: (a) => `Datanet ${a.datanetId} is listed twice.`,
  InvalidVersion: (a) =>
    `Version ${a.version} of Datanet ${a.datanetId} does not exist (current version ${a.current}). Use a version between 1 and ${a.current}.`,
  InactiveBaseModel: (a) =>
    `Base model ${a.baseModelId} is not registered or not active. List base models with \`tributary model list --base\`.`,
  ParentModelMismatch: (a) =>
    `Parent model ${a.parentModelId} is built on base model ${a.parentBase}, not ${a.baseModelId}.`,
  ZeroBudget: () => "A job needs a budget above 0.",
  InvalidDuration: (a) => `A job duration of ${a.duration} s is outside ${a.min}..${a.max} s.`,
  InvalidAttribution: (a) =>
    `Attribution root ${a.root} and total weight ${a.totalWeight} must both be zero or both non-zero.`,
  ModelNotFound: (a) => `Model ${a.tokenId} does not exist. List models with \`tributary model list\`.`,
  BaseModelNotFound: (a) => `Base model ${a.baseModelId} does not exist.`,
  NotModelOwner: (a) => `${a.account} does not own model ${a.tokenId}.`,
  EmptyName: () => "A name must not be empty.",
  ModelNotRegistered: (a) => `Model ${a.modelId} is not registered for rewards.`,
  NoAttribution: (a) => `Model ${a.modelId} has no attribution root, so no contributor can claim.`,
  InvalidProof: (a) =>
    `The proof does not show (${a.account}, weight ${a.weight}) in the model's attribution tree. Use the proof from the model's attribution report.`,
  WeightExceedsTotal: (a) => `Weight ${a.weight} exceeds the tree's total weight ${a.totalWeight}.`,
  NothingToClaim: (a) => `Nothing is claimable for ${a.account} right now.`,
  AlreadyClaimed: (a) => `${a.account} already claimed from distribution ${a.distributionId}.`,
  ChannelExists: (a) => `Channel ${a.channelId} already exists; top it up instead.`,
  ChannelNotFound: (a) => `Channel ${a.channelId} does not exist.`,
  NotPayer: (a) => `${a.account} is not the payer of channel ${a.channelId}.`,
  WithdrawalNotRequested: (a) =>
    `No withdrawal was requested for channel ${a.channelId}; request one first, then wait for the timeout.`,
  WithdrawalTimeoutActive: (a) => `Channel ${a.channelId} can be withdrawn from ${time(a.withdrawableAt)}.`,
  UnknownModel: (a) => `Model ${a.modelId} is not registered for payments.`,
  NotProvider: (a) => `${a.account} is not the provider of channel ${a.channelId}.`,
  InvalidSigner: (a) =>
    `The voucher for channel ${a.channelId} is signed by ${a.signer}, neither the payer nor a valid session key.`,
  NothingToRedeem: (a) =>
    `The voucher's cumulative ${open(a.cumulativeAmount)} adds nothing to the ${open(a.redeemed)} already redeemed from channel ${a.channelId} (deposit ${open(a.deposit)}).`,
  NoSessionKey: (a) => `Channel ${a.channelId} has no session key to revoke.`,
  InvalidSessionKeyExpiry: (a) => `A session key expiry of ${time(a.expiresAt)} is not in the future.`,
  AmountTooLarge: (a) => `${open(a.amount)} exceeds what the contract can account for.`,
  ClaimExceedsRewards: (a) =>
    `The claim of ${open(a.amount)} exceeds the ${open(a.available)} available: the attribution tree's weights exceed its total.`,
  DistributionNotFound: (a) => `Distribution ${a.distributionId} does not exist.`,
  EmptyPool: (a) => `Datanet ${a.datanetId}'s reward pool holds nothing to distribute.`,
  NothingToPay: (a) => `Nothing has accrued for the owner, trainer or protocol of model ${a.modelId} yet.`,
  UnknownDatanet: (a) => `Datanet ${a.datanetId} does not exist.`,
  ModelAlreadyRegistered: (a) => `Model ${a.modelId} is already registered for rewards.`,
  ERC721NonexistentToken: (a) => `Model ${a.tokenId} does not exist.`,
  ERC20InsufficientBalance: (a) =>
    `${a.sender} holds ${open(a.balance)}, less than the ${open(a.needed)} needed. Get more OPEN first.`,
  ERC20InsufficientAllowance: (a) =>
    `${a.spender} may spend only ${open(a.allowance)} of your OPEN, less than the ${open(a.needed)} needed. Approve it first.`,
  AccessControlUnauthorizedAccount: (a) =>
    `${a.account} lacks the role ${a.neededRole} this needs. Use an account that holds it.`,
};

/** `Name(arg=value, ...)`: the fallback for errors without a sentence. */
export function formatErrorCall(name: string, args: Args): string {
  return `${name}(${Object.entries(args)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(", ")})`;
}

/** The sentence for a decoded custom error (fallback: its name and arguments). */
export function describeCustomError(name: string, args: Args): string {
  const sentence = SENTENCES[name];
  if (sentence) {
    try {
      return `${sentence(args)} [${name}]`;
    } catch {
      // A sentence that cannot render its arguments falls back to the plain form below.
    }
  }
  return `the contract raised ${formatErrorCall(name, args)}.`;
}

/**
 * Turns a viem error from a simulation or a send into a ContractRevertError when it is a revert;
 * other errors (network, wallet) come back unchanged.
 */
export function decodeRevert(err: unknown, where: { contract: string; functionName: string }): unknown {
  if (!(err instanceof BaseError)) return err;
  const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
  if (!(reverted instanceof ContractFunctionRevertedError)) return err;
  const data = reverted.data;
  if (data?.errorName && data.errorName !== "Error" && data.errorName !== "Panic") {
    const inputs = (data.abiItem as AbiError | undefined)?.inputs ?? [];
    const values = (data.args ?? []) as readonly unknown[];
    const args: Args = {};
    values.forEach((v, i) => {
      args[inputs[i]?.name || `arg${i}`] = v;
    });
    return new ContractRevertError({
      ...where,
      errorName: data.errorName,
      args,
      reason: describeCustomError(data.errorName, args),
      cause: err,
    });
  }
  const reason = reverted.reason
    ? `${reverted.reason}.`
    : reverted.signature
      ? `unknown custom error ${reverted.signature}; the ABI in sdk/src/chain/generated may be stale (run npm run compile and the ABI generator).`
      : "no reason given (out of gas, a failed assertion, or a call to a contract that does not exist; check the deployments match the chain).";
  return new ContractRevertError({ ...where, errorName: data?.errorName, args: {}, reason, cause: err });
}
