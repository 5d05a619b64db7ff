// Every handler of the real subgraph: `graph codegen && graph build` here, then each contract event is fed
// to the built wasm (see helpers/events.ts) and the entities it creates and updates are checked.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import type { Hex } from "viem";
import { buildSubgraph } from "../runner/build.ts";
import { loadSubgraph } from "../runner/manifest.ts";
import { prepareSubgraph, subgraphDir } from "../scripts/prepare.ts";
import { MockChain, type Data } from "./helpers/events.ts";

const addr = (n: number): Hex => `0x${n.toString(16).padStart(40, "0")}`;
const b32 = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}`;
const E18 = 10n ** 18n;

const OWNER = addr(0xa1);
const OWNER2 = addr(0xa2);
const CURATOR1 = addr(0xc1);
const CURATOR2 = addr(0xc2);
const ALICE = addr(0x11); // contributor
const BOB = addr(0x12); // contributor
const BUILDER = addr(0xb1);
const BUYER = addr(0xb2);
const TRAINER = addr(0x71);
const ARBITER = addr(0xab);
const TREASURY = addr(0x7e);
const MARKET = addr(0x3a);
const PAYER = addr(0x9a);
const SESSION = addr(0x5e);
const SESSION2 = addr(0x5f);
const CHANNEL = b32(0xc4a);
const GAME = addr(0x6a1); // DisputeGame
const UGAME = addr(0x6a2); // UsageGame
const V = (i: number): Hex => addr(0x7e00 + i); // staked verifiers
const VERIFIERS = [1, 2, 3, 4, 5, 6, 7].map(V);
const LEAVER = addr(0x7eff);

let chain: MockChain;

before(async () => {
  prepareSubgraph();
  const manifest = await buildSubgraph(subgraphDir);
  chain = new MockChain(loadSubgraph(manifest));
});

async function one(q: string): Promise<Data> {
  const d = await chain.query(`{ x: ${q} }`);
  return d.x;
}

describe("ProtocolStats from parameter events", () => {
  it("records every governance parameter and the split", async () => {
    chain.emit("ModelRegistry", "BaseModelRegistered", {
      baseModelId: 1,
      name: "tiny-llama",
      cid: "bafy-base",
    });
    chain.emit("RewardDistributor", "SplitUpdated", {
      split: { ownerBps: 5000, trainerBps: 1000, protocolBps: 500 },
    });
    chain.emit("RewardDistributor", "TreasuryUpdated", { treasury: TREASURY });
    chain.emit("AccessRegistry", "PaidAccessDurationUpdated", { duration: 86400n });
    chain.emit("JobMarket", "ChallengeWindowUpdated", { challengeWindow: 3600 });
    chain.emit("JobMarket", "DataFeeBpsUpdated", { dataFeeBps: 1000 });
    chain.emit("JobMarket", "SlashAmountUpdated", { slashAmount: 10n * E18 });
    chain.emit("TrainerRegistry", "MinStakeUpdated", { minStake: 100n * E18 });
    chain.emit("TrainerRegistry", "UnstakeCooldownUpdated", { cooldown: 604800n });
    chain.emit("PaymentChannels", "CloseTimeoutUpdated", { closeTimeout: 1800 });
    chain.mine();
    const s = await one(
      `protocolStats(id: "protocol") { ownerBps trainerBps protocolBps treasury paidAccessDuration challengeWindow dataFeeBps slashAmount minStake unstakeCooldown closeTimeout baseModelCount eventCount }`,
    );
    assert.deepEqual(s, {
      ownerBps: 5000,
      trainerBps: 1000,
      protocolBps: 500,
      treasury: TREASURY,
      paidAccessDuration: "86400",
      challengeWindow: "3600",
      dataFeeBps: 1000,
      slashAmount: String(10n * E18),
      minStake: String(100n * E18),
      unstakeCooldown: "604800",
      closeTimeout: "1800",
      baseModelCount: 1,
      eventCount: 10,
    });
    const base = await one(`baseModel(id: "1") { baseModelId name cid active }`);
    assert.deepEqual(base, { baseModelId: 1, name: "tiny-llama", cid: "bafy-base", active: true });
    chain.emit("ModelRegistry", "BaseModelStatusChanged", { baseModelId: 1, active: false });
    chain.emit("ModelRegistry", "BaseModelStatusChanged", { baseModelId: 1, active: true });
    chain.mine();
    assert.equal((await one(`baseModelStatusChangeds(orderBy: blockNumber) { active }`)).length, 2);
    assert.equal((await one(`baseModel(id: "1") { active }`)).active, true);
  });
});

describe("DatanetRegistry handlers", () => {
  it("creates a Datanet and applies metadata, policy, curator and ownership changes", async () => {
    chain.emit("DatanetRegistry", "DatanetCreated", {
      datanetId: 1n,
      owner: OWNER,
      metadataCID: "bafy-meta",
      policy: 1,
      price: 5n * E18,
      curators: [CURATOR1],
    });
    chain.mine();
    let d = await one(
      `datanet(id: "1") { datanetId owner { id } metadataCID policy price curators { id } version contributionCount }`,
    );
    assert.deepEqual(d, {
      datanetId: "1",
      owner: { id: OWNER },
      metadataCID: "bafy-meta",
      policy: "Approval",
      price: String(5n * E18),
      curators: [{ id: CURATOR1 }],
      version: 0,
      contributionCount: 0,
    });
    chain.emit("DatanetRegistry", "DatanetMetadataUpdated", { datanetId: 1n, metadataCID: "bafy-meta-2" });
    chain.emit("DatanetRegistry", "AccessPolicyUpdated", { datanetId: 1n, policy: 2, price: 7n * E18 });
    chain.emit("DatanetRegistry", "CuratorAdded", { datanetId: 1n, curator: CURATOR2 });
    chain.emit("DatanetRegistry", "CuratorRemoved", { datanetId: 1n, curator: CURATOR1 });
    chain.emit("DatanetRegistry", "DatanetOwnershipTransferred", {
      datanetId: 1n,
      previousOwner: OWNER,
      newOwner: OWNER2,
    });
    chain.mine();
    d = await one(`datanet(id: "1") { owner { id } metadataCID policy price curators { id } }`);
    assert.deepEqual(d, {
      owner: { id: OWNER2 },
      metadataCID: "bafy-meta-2",
      policy: "Paid",
      price: String(7n * E18),
      curators: [{ id: CURATOR2 }],
    });
    const ev = await chain.query(
      `{ datanetCreateds { datanet { id } owner { id } policy curators } curatorAddeds { curator { id } } curatorRemoveds { curator { id } } datanetOwnershipTransferreds { previousOwner { id } newOwner { id } } accessPolicyUpdateds { policy price } datanetMetadataUpdateds { metadataCID } }`,
    );
    assert.deepEqual(ev.datanetCreateds, [
      { datanet: { id: "1" }, owner: { id: OWNER }, policy: "Approval", curators: [CURATOR1] },
    ]);
    assert.deepEqual(ev.curatorAddeds, [{ curator: { id: CURATOR2 } }]);
    assert.deepEqual(ev.curatorRemoveds, [{ curator: { id: CURATOR1 } }]);
    assert.deepEqual(ev.datanetOwnershipTransferreds, [
      { previousOwner: { id: OWNER }, newOwner: { id: OWNER2 } },
    ]);
    assert.deepEqual(ev.accessPolicyUpdateds, [{ policy: "Paid", price: String(7n * E18) }]);
    assert.deepEqual(ev.datanetMetadataUpdateds, [{ metadataCID: "bafy-meta-2" }]);
    assert.equal((await one(`datanets(where: { owner_: { id: "${OWNER2}" } }) { id }`)).length, 1);
  });

  it("tracks contributions through submission, approval, rejection and withdrawal", async () => {
    const submit = (id: bigint, who: Hex, records: number, bytes: number, encrypted: boolean) =>
      chain.emit("DatanetRegistry", "ContributionSubmitted", {
        datanetId: 1n,
        contributionId: id,
        contributor: who,
        cid: `bafy-c${id}`,
        contentHash: b32(Number(id)),
        records,
        byteSize: bytes,
        encrypted,
      });
    submit(1n, ALICE, 10, 1000, true);
    submit(2n, BOB, 5, 500, false);
    submit(3n, ALICE, 7, 700, true);
    chain.mine();
    chain.emit("DatanetRegistry", "ContributionApproved", {
      datanetId: 1n,
      contributionId: 1n,
      curator: CURATOR2,
      version: 1,
    });
    chain.emit("DatanetRegistry", "ContributionApproved", {
      datanetId: 1n,
      contributionId: 2n,
      curator: CURATOR2,
      version: 2,
    });
    chain.emit("DatanetRegistry", "ContributionRejected", {
      datanetId: 1n,
      contributionId: 3n,
      curator: CURATOR2,
    });
    chain.mine();
    let d = await one(
      `datanet(id: "1") { version contributionCount approvedCount rejectedCount withdrawnCount totalRecords totalBytes }`,
    );
    assert.deepEqual(d, {
      version: 2,
      contributionCount: 3,
      approvedCount: 2,
      rejectedCount: 1,
      withdrawnCount: 0,
      totalRecords: "15",
      totalBytes: "1500",
    });
    chain.emit("DatanetRegistry", "ContributionWithdrawn", {
      datanetId: 1n,
      contributionId: 2n,
      contributor: BOB,
    });
    chain.mine();
    d = await one(
      `datanet(id: "1") { version withdrawnCount totalRecords totalBytes contributions(orderBy: contributionId) { id status curator { id } version records byteSize encrypted contentHash cid contributor { id } } }`,
    );
    assert.equal(d.withdrawnCount, 1);
    assert.equal(d.totalRecords, "10");
    assert.equal(d.totalBytes, "1000");
    assert.deepEqual(
      d.contributions.map((c: Data) => [
        c.id,
        c.status,
        c.curator?.id ?? null,
        c.version,
        c.records,
        c.byteSize,
        c.encrypted,
        c.contributor.id,
      ]),
      [
        ["1-1", "Approved", CURATOR2, 1, 10, "1000", true, ALICE],
        ["1-2", "Withdrawn", CURATOR2, 2, 5, "500", false, BOB],
        ["1-3", "Rejected", CURATOR2, null, 7, "700", true, ALICE],
      ],
    );
    assert.equal(d.contributions[0].contentHash, b32(1));
    const alice = await one(
      `account(id: "${ALICE}") { contributionCount approvedContributionCount contributions { id } }`,
    );
    assert.deepEqual(alice, {
      contributionCount: 2,
      approvedContributionCount: 1,
      contributions: [{ id: "1-1" }, { id: "1-3" }],
    });
    const ev = await chain.query(
      `{ contributionSubmitteds { id } contributionApproveds(orderBy: version) { version contribution { id } } contributionRejecteds { contribution { id } } contributionWithdrawns { contributor { id } } }`,
    );
    assert.equal(ev.contributionSubmitteds.length, 3);
    assert.deepEqual(ev.contributionApproveds, [
      { version: 1, contribution: { id: "1-1" } },
      { version: 2, contribution: { id: "1-2" } },
    ]);
    assert.deepEqual(ev.contributionRejecteds, [{ contribution: { id: "1-3" } }]);
    assert.deepEqual(ev.contributionWithdrawns, [{ contributor: { id: BOB } }]);
  });
});

describe("AccessRegistry handlers", () => {
  it("follows requests, grants, consumption, purchases and revocation", async () => {
    chain.emit("AccessRegistry", "AccessRequested", {
      datanetId: 1n,
      account: BUILDER,
      requestCID: "bafy-req",
    });
    chain.emit("AccessRegistry", "AccessGranted", {
      datanetId: 1n,
      account: BUILDER,
      grantor: CURATOR2,
      expiresAt: 2_000_000_000n,
      usesLeft: 3,
    });
    chain.emit("AccessRegistry", "AccessConsumed", {
      datanetId: 1n,
      account: BUILDER,
      consumer: MARKET,
      usesLeft: 2,
    });
    chain.emit("AccessRegistry", "AccessConsumed", {
      datanetId: 1n,
      account: BUILDER,
      consumer: MARKET,
      usesLeft: 1,
    });
    // The job that consumed the second use was cancelled: the use comes back.
    chain.emit("AccessRegistry", "AccessRestored", {
      datanetId: 1n,
      account: BUILDER,
      consumer: MARKET,
      usesLeft: 2,
    });
    chain.emit("AccessRegistry", "AccessPurchased", {
      datanetId: 1n,
      account: BUYER,
      uses: 2,
      paid: 14n * E18,
      expiresAt: 1_900_000_000n,
      usesLeft: 2,
    });
    // A curator's revocation leaves the 2 uses the buyer paid for.
    chain.emit("AccessRegistry", "AccessRevoked", {
      datanetId: 1n,
      account: BUYER,
      revoker: CURATOR2,
      usesLeft: 2,
    });
    chain.mine();
    const g = await one(
      `accessGrant(id: "1-${BUILDER}") { requested requestCID active grantor { id } expiresAt usesLeft usesConsumed paid datanet { id } account { id } }`,
    );
    assert.deepEqual(g, {
      requested: true,
      requestCID: "bafy-req",
      active: true,
      grantor: { id: CURATOR2 },
      expiresAt: "2000000000",
      usesLeft: 2,
      usesConsumed: 1,
      paid: "0",
      datanet: { id: "1" },
      account: { id: BUILDER },
    });
    const bought = await one(`accessGrant(id: "1-${BUYER}") { active paid usesLeft expiresAt }`);
    assert.deepEqual(bought, {
      active: true,
      paid: String(14n * E18),
      usesLeft: 2,
      expiresAt: "1900000000",
    });
    const restored = await chain.query(`{ accessRestoreds { usesLeft consumer account { id } } }`);
    assert.deepEqual(restored.accessRestoreds, [{ usesLeft: 2, consumer: MARKET, account: { id: BUILDER } }]);
    const d = await one(`datanet(id: "1") { accessRequestCount accessGrants(orderBy: id) { id } }`);
    assert.equal(d.accessRequestCount, 1);
    assert.equal(d.accessGrants.length, 2);
    const ev = await chain.query(
      `{ accessRequesteds { requestCID } accessGranteds { uses grantor { id } } accessConsumeds { consumer usesLeft } accessPurchaseds { uses paid usesLeft } accessRevokeds { revoker { id } } }`,
    );
    assert.deepEqual(ev.accessRequesteds, [{ requestCID: "bafy-req" }]);
    assert.deepEqual(ev.accessGranteds, [{ uses: 3, grantor: { id: CURATOR2 } }]);
    assert.deepEqual(ev.accessConsumeds, [
      { consumer: MARKET, usesLeft: 2 },
      { consumer: MARKET, usesLeft: 1 },
    ]);
    assert.deepEqual(ev.accessPurchaseds, [{ uses: 2, paid: String(14n * E18), usesLeft: 2 }]);
    assert.deepEqual(ev.accessRevokeds, [{ revoker: { id: CURATOR2 } }]);
    assert.equal((await one(`protocolStats(id: "protocol") { accessGrantCount }`)).accessGrantCount, 2);
  });
});

describe("TrainerRegistry handlers", () => {
  it("tracks stake, cooldown, withdrawal, profile and active jobs", async () => {
    chain.emit("TrainerRegistry", "Staked", {
      trainer: TRAINER,
      amount: 100n * E18,
      totalStaked: 100n * E18,
    });
    chain.emit("TrainerRegistry", "Staked", { trainer: TRAINER, amount: 50n * E18, totalStaked: 150n * E18 });
    chain.emit("TrainerRegistry", "ProfileUpdated", { trainer: TRAINER, profileCID: "bafy-profile" });
    chain.emit("TrainerRegistry", "UnstakeRequested", {
      trainer: TRAINER,
      amount: 20n * E18,
      unstaking: 20n * E18,
      availableAt: 1_800_000_000n,
    });
    chain.mine();
    let t = await one(
      `trainer(id: "${TRAINER}") { staked unstaking unstakeAvailableAt profileCID account { id } }`,
    );
    assert.deepEqual(t, {
      staked: String(130n * E18),
      unstaking: String(20n * E18),
      unstakeAvailableAt: "1800000000",
      profileCID: "bafy-profile",
      account: { id: TRAINER },
    });
    chain.emit("TrainerRegistry", "StakeWithdrawn", { trainer: TRAINER, amount: 20n * E18 });
    chain.emit("TrainerRegistry", "ActiveJobsChanged", {
      trainer: TRAINER,
      activeJobs: 1,
      locked: 60n * E18,
    });
    chain.mine();
    t = await one(`trainer(id: "${TRAINER}") { staked unstaking activeJobs locked }`);
    assert.deepEqual(t, {
      staked: String(130n * E18),
      unstaking: "0",
      activeJobs: 1,
      locked: String(60n * E18),
    });
    const s = await one(`protocolStats(id: "protocol") { trainerCount totalStaked }`);
    assert.deepEqual(s, { trainerCount: 1, totalStaked: String(130n * E18) });
    const ev = await chain.query(
      `{ stakeds(orderBy: totalStaked) { amount totalStaked } unstakeRequesteds { amount availableAt } stakeWithdrawns { amount } profileUpdateds { profileCID } activeJobsChangeds { activeJobs locked } }`,
    );
    assert.deepEqual(
      ev.stakeds.map((x: Data) => x.totalStaked),
      [String(100n * E18), String(150n * E18)],
    );
    assert.equal(ev.unstakeRequesteds[0].availableAt, "1800000000");
    assert.equal(ev.stakeWithdrawns[0].amount, String(20n * E18));
    assert.equal(ev.profileUpdateds[0].profileCID, "bafy-profile");
    assert.equal(ev.activeJobsChangeds[0].activeJobs, 1);
    assert.equal(ev.activeJobsChangeds[0].locked, String(60n * E18));
  });
});

describe("JobMarket and ModelRegistry handlers", () => {
  const post = (jobId: bigint) =>
    chain.emit("JobMarket", "JobPosted", {
      jobId,
      poster: BUILDER,
      specCID: `bafy-spec-${jobId}`,
      baseModelId: 1,
      parentModelId: 0n,
      datanetIds: [1n],
      versions: [2],
      budget: 100n * E18,
      dataFee: 10n * E18,
      duration: 3600,
    });
  const submit = (jobId: bigint) =>
    chain.emit("JobMarket", "ResultSubmitted", {
      jobId,
      trainer: TRAINER,
      adapterCID: "bafy-adapter",
      adapterHash: b32(0xada),
      metricsCID: "bafy-metrics",
      attributionRoot: b32(0x400),
      attributionTotalWeight: 1000n,
      reportCID: "bafy-report",
      challengeEndsAt: 1_700_100_000,
    });

  it("takes a job from posting through a dispute to finalization and mints the model", async () => {
    post(1n);
    chain.mine();
    let j = await one(
      `job(id: "1") { status poster { id } specCID baseModel { id } parentModel { id } datanets { id } versions budget dataFee duration slashed }`,
    );
    assert.deepEqual(j, {
      status: "Open",
      poster: { id: BUILDER },
      specCID: "bafy-spec-1",
      baseModel: { id: "1" },
      parentModel: null,
      datanets: [{ id: "1" }],
      versions: [2],
      budget: String(100n * E18),
      dataFee: String(10n * E18),
      duration: 3600,
      slashed: "0",
    });
    chain.emit("JobMarket", "JobClaimed", {
      jobId: 1n,
      trainer: TRAINER,
      dueAt: 1_700_050_000,
      collateral: 100n * E18,
    });
    chain.mine();
    assert.deepEqual(await one(`job(id: "1") { status trainer { id } dueAt collateral }`), {
      status: "Claimed",
      trainer: { id: TRAINER },
      dueAt: "1700050000",
      collateral: String(100n * E18),
    });
    assert.deepEqual((await chain.query(`{ jobClaimeds { collateral } }`)).jobClaimeds, [
      { collateral: String(100n * E18) },
    ]);
    submit(1n);
    chain.mine();
    j = await one(
      `job(id: "1") { status adapterCID adapterHash metricsCID attributionRoot attributionTotalWeight reportCID challengeEndsAt }`,
    );
    assert.deepEqual(j, {
      status: "Submitted",
      adapterCID: "bafy-adapter",
      adapterHash: b32(0xada),
      metricsCID: "bafy-metrics",
      attributionRoot: b32(0x400),
      attributionTotalWeight: "1000",
      reportCID: "bafy-report",
      challengeEndsAt: "1700100000",
    });
    chain.emit("JobMarket", "JobDisputed", { jobId: 1n, challenger: BUILDER, reasonCID: "bafy-reason" });
    chain.mine();
    assert.deepEqual(await one(`job(id: "1") { status disputeReasonCID }`), {
      status: "Disputed",
      disputeReasonCID: "bafy-reason",
    });
    chain.emit("JobMarket", "DisputeResolved", {
      jobId: 1n,
      resolver: ARBITER,
      trainerWins: true,
      slashed: 0n,
      reasonCID: "bafy-ruling",
    });
    chain.emit("JobMarket", "ResultAccepted", { jobId: 1n, poster: BUILDER });
    // ERC-721 _mint emits Transfer before the registry's own event
    chain.emit("ModelRegistry", "Transfer", { from: addr(0), to: BUILDER, tokenId: 1n });
    chain.emit("ModelRegistry", "ModelVersionMinted", {
      tokenId: 1n,
      jobId: 1n,
      owner: BUILDER,
      baseModelId: 1,
      parentId: 0n,
      adapterCID: "bafy-adapter",
      adapterHash: b32(0xada),
      trainer: TRAINER,
      attributionRoot: b32(0x400),
      attributionTotalWeight: 1000n,
      reportCID: "bafy-report",
      datanetIds: [1n],
    });
    chain.emit("RewardDistributor", "ModelRegistered", {
      modelId: 1n,
      trainer: TRAINER,
      attributionRoot: b32(0x400),
      totalWeight: 1000n,
      split: { ownerBps: 5000, trainerBps: 1000, protocolBps: 500 },
    });
    chain.emit("JobMarket", "JobFinalized", {
      jobId: 1n,
      trainer: TRAINER,
      modelId: 1n,
      trainerPayment: 90n * E18,
      dataFee: 10n * E18,
    });
    chain.emit("JobMarket", "DataFeePaid", { jobId: 1n, datanetId: 1n, amount: 10n * E18 });
    chain.emit("ModelRegistry", "InferencePriceSet", { tokenId: 1n, price: 10n ** 15n });
    chain.emit("ModelRegistry", "TransferHookSet", { hook: TREASURY });
    chain.emit("JobMarket", "Withdrawn", { account: TRAINER, amount: 90n * E18 });
    chain.mine();
    j = await one(`job(id: "1") { status model { id } trainerPayment }`);
    assert.deepEqual(j, { status: "Finalized", model: { id: "1" }, trainerPayment: String(90n * E18) });
    assert.deepEqual((await chain.query(`{ transferHookSets { hook } }`)).transferHookSets, [
      { hook: TREASURY },
    ]);
    const m = await one(
      `modelVersion(id: "1") { tokenId job { id } owner { id } baseModel { id } parent { id } adapterCID trainer { id } attributionTotalWeight datanets { id } inferencePrice rewards { ownerBps trainerBps protocolBps totalWeight } }`,
    );
    assert.deepEqual(m, {
      tokenId: "1",
      job: { id: "1" },
      owner: { id: BUILDER },
      baseModel: { id: "1" },
      parent: null,
      adapterCID: "bafy-adapter",
      trainer: { id: TRAINER },
      attributionTotalWeight: "1000",
      datanets: [{ id: "1" }],
      inferencePrice: String(10n ** 15n),
      rewards: [{ ownerBps: 5000, trainerBps: 1000, protocolBps: 500, totalWeight: "1000" }],
    });
    const t = await one(`trainer(id: "${TRAINER}") { jobsCompleted earnings jobs { id } }`);
    assert.deepEqual(t, { jobsCompleted: 1, earnings: String(90n * E18), jobs: [{ id: "1" }] });
    assert.equal((await one(`datanet(id: "1") { dataFeesEarned }`)).dataFeesEarned, String(10n * E18));
    const d = await one(`datanet(id: "1") { jobs { id } models { id } }`);
    assert.deepEqual(d, { jobs: [{ id: "1" }], models: [{ id: "1" }] });
    const s = await one(
      `protocolStats(id: "protocol") { jobCount finalizedJobCount totalTrainerPayments totalDataFees modelCount totalBudgetPosted }`,
    );
    assert.deepEqual(s, {
      jobCount: 1,
      finalizedJobCount: 1,
      totalTrainerPayments: String(90n * E18),
      totalDataFees: String(10n * E18),
      modelCount: 1,
      totalBudgetPosted: String(100n * E18),
    });
    const ev = await chain.query(
      `{ jobPosteds { datanetIds versions } jobClaimeds { dueAt } resultSubmitteds { adapterCID } jobDisputeds { reasonCID } disputeResolveds { resolver trainerWins } resultAccepteds { poster { id } } jobFinalizeds { modelId } dataFeePaids { amount datanet { id } } modelVersionMinteds { datanetIds model { id } } inferencePriceSets { price } jobMarketWithdrawals { amount account { id } } modelRegistereds { modelId ownerBps } }`,
    );
    assert.deepEqual(ev.jobPosteds, [{ datanetIds: ["1"], versions: [2] }]);
    assert.deepEqual(ev.disputeResolveds, [{ resolver: ARBITER, trainerWins: true }]);
    assert.deepEqual(ev.resultAccepteds, [{ poster: { id: BUILDER } }]);
    assert.deepEqual(ev.jobFinalizeds, [{ modelId: "1" }]);
    assert.deepEqual(ev.dataFeePaids, [{ amount: String(10n * E18), datanet: { id: "1" } }]);
    assert.deepEqual(ev.modelVersionMinteds, [{ datanetIds: ["1"], model: { id: "1" } }]);
    assert.deepEqual(ev.inferencePriceSets, [{ price: String(10n ** 15n) }]);
    assert.deepEqual(ev.jobMarketWithdrawals, [{ amount: String(90n * E18), account: { id: TRAINER } }]);
    assert.deepEqual(ev.modelRegistereds, [{ modelId: "1", ownerBps: 5000 }]);
    assert.equal(ev.jobClaimeds.length, 1);
    assert.equal(ev.resultSubmitteds.length, 1);
    assert.equal(ev.jobDisputeds.length, 1);
  });

  it("follows ERC-721 transfers of model versions", async () => {
    chain.emit("ModelRegistry", "Transfer", { from: BUILDER, to: BUYER, tokenId: 1n });
    chain.mine();
    const m = await one(
      `modelVersion(id: "1") { owner { id } transfers(orderBy: blockNumber) { from to { id } } }`,
    );
    assert.deepEqual(m, {
      owner: { id: BUYER },
      transfers: [
        { from: addr(0), to: { id: BUILDER } },
        { from: BUILDER, to: { id: BUYER } },
      ],
    });
    assert.deepEqual(await one(`account(id: "${BUYER}") { models { id } }`), { models: [{ id: "1" }] });
    assert.deepEqual(await one(`account(id: "${BUILDER}") { models { id } }`), { models: [] });
  });

  it("handles cancellation, reclaim with slashing, and refund after a lost dispute", async () => {
    post(2n);
    post(3n);
    post(4n);
    chain.mine();
    chain.emit("JobMarket", "JobCancelled", { jobId: 2n, poster: BUILDER, refund: 100n * E18 });
    chain.emit("JobMarket", "JobClaimed", {
      jobId: 3n,
      trainer: TRAINER,
      dueAt: 1_700_050_000,
      collateral: 100n * E18,
    });
    chain.emit("JobMarket", "JobClaimed", {
      jobId: 4n,
      trainer: TRAINER,
      dueAt: 1_700_050_000,
      collateral: 100n * E18,
    });
    chain.mine();
    chain.emit("JobMarket", "JobReclaimed", { jobId: 3n, trainer: TRAINER, slashed: 10n * E18 });
    chain.emit("TrainerRegistry", "Slashed", { trainer: TRAINER, slasher: MARKET, amount: 10n * E18 });
    submit(4n);
    chain.emit("JobMarket", "JobDisputed", { jobId: 4n, challenger: BUILDER, reasonCID: "bafy-bad" });
    chain.emit("JobMarket", "DisputeResolved", {
      jobId: 4n,
      resolver: ARBITER,
      trainerWins: false,
      slashed: 10n * E18,
      reasonCID: "bafy-ruling-2",
    });
    chain.emit("TrainerRegistry", "Slashed", { trainer: TRAINER, slasher: MARKET, amount: 10n * E18 });
    chain.emit("JobMarket", "JobRefunded", { jobId: 4n, poster: BUILDER, refund: 100n * E18 });
    chain.mine();
    const jobs = await one(
      `jobs(orderBy: jobId, where: { jobId_in: ["2", "3", "4"] }) { id status trainer { id } refund slashed }`,
    );
    assert.deepEqual(jobs, [
      { id: "2", status: "Cancelled", trainer: null, refund: String(100n * E18), slashed: "0" },
      { id: "3", status: "Open", trainer: null, refund: null, slashed: String(10n * E18) },
      {
        id: "4",
        status: "Refunded",
        trainer: { id: TRAINER },
        refund: String(100n * E18),
        slashed: String(10n * E18),
      },
    ]);
    const t = await one(`trainer(id: "${TRAINER}") { staked slashed }`);
    assert.deepEqual(t, { staked: String(110n * E18), slashed: String(20n * E18) });
    const s = await one(`protocolStats(id: "protocol") { totalSlashed totalStaked jobCount }`);
    assert.deepEqual(s, { totalSlashed: String(20n * E18), totalStaked: String(110n * E18), jobCount: 4 });
    const ev = await chain.query(
      `{ jobCancelleds { refund } jobReclaimeds { slashed } jobRefundeds { refund } slasheds { amount slasher } }`,
    );
    assert.equal(ev.jobCancelleds.length, 1);
    assert.equal(ev.jobReclaimeds[0].slashed, String(10n * E18));
    assert.equal(ev.jobRefundeds[0].refund, String(100n * E18));
    assert.equal(ev.slasheds.length, 2);
  });

  it("reopens a job its trainer released and records the release fee", async () => {
    post(5n);
    chain.mine();
    chain.emit("JobMarket", "JobClaimed", {
      jobId: 5n,
      trainer: TRAINER,
      dueAt: 1_700_050_000,
      collateral: 100n * E18,
    });
    chain.mine();
    chain.emit("JobMarket", "JobReleased", { jobId: 5n, trainer: TRAINER, fee: 3n * E18 });
    chain.emit("JobMarket", "ReleaseFeeBpsUpdated", { releaseFeeBps: 3_000 });
    chain.emit("JobMarket", "CollateralBpsUpdated", { collateralBps: 5_000 });
    chain.emit("JobMarket", "DisputeGameSet", { game: ARBITER });
    chain.mine();
    const job = await one(`job(id: "5") { status trainer { id } dueAt collateral slashed }`);
    assert.deepEqual(job, {
      status: "Open",
      trainer: null,
      dueAt: null,
      collateral: null,
      slashed: String(3n * E18),
    });
    const ev = await chain.query(
      `{ jobReleaseds { fee trainer { id } } collateralBpsUpdateds { collateralBps } disputeGameSets { game } protocolStats(id: "protocol") { releaseFeeBps collateralBps disputeGame } }`,
    );
    assert.deepEqual(ev.jobReleaseds, [{ fee: String(3n * E18), trainer: { id: TRAINER } }]);
    assert.equal(ev.protocolStats.releaseFeeBps, 3_000);
    assert.equal(ev.protocolStats.collateralBps, 5_000);
    assert.deepEqual(ev.collateralBpsUpdateds, [{ collateralBps: 5_000 }]);
    assert.deepEqual(ev.disputeGameSets, [{ game: ARBITER }]);
    assert.equal(ev.protocolStats.disputeGame, ARBITER);
  });

  it("reopens a job released without a fee for a withdrawn contribution", async () => {
    post(6n);
    chain.mine();
    chain.emit("JobMarket", "JobClaimed", {
      jobId: 6n,
      trainer: TRAINER,
      dueAt: 1_700_050_000,
      collateral: 100n * E18,
    });
    chain.mine();
    chain.emit("JobMarket", "JobReleasedNoFault", {
      jobId: 6n,
      trainer: TRAINER,
      datanetId: 1n,
      contributionId: 2n,
    });
    chain.mine();
    const job = await one(`job(id: "6") { status trainer { id } dueAt collateral slashed }`);
    assert.deepEqual(job, { status: "Open", trainer: null, dueAt: null, collateral: null, slashed: "0" });
    const ev = await chain.query(
      `{ jobReleasedNoFaults { job { id } trainer { id } datanet { id } contributionId } }`,
    );
    assert.deepEqual(ev.jobReleasedNoFaults, [
      { job: { id: "6" }, trainer: { id: TRAINER }, datanet: { id: "1" }, contributionId: "2" },
    ]);
  });
});

describe("PaymentChannels and RewardDistributor handlers", () => {
  it("follows a channel from opening to withdrawal and the revenue it brings", async () => {
    chain.emit("PaymentChannels", "ChannelOpened", {
      channelId: CHANNEL,
      payer: PAYER,
      provider: TRAINER,
      modelId: 1n,
      amount: 5n * E18,
      sessionKey: SESSION,
      sessionKeyExpiresAt: 1_800_000_000,
    });
    chain.emit("PaymentChannels", "ChannelToppedUp", { channelId: CHANNEL, amount: E18, deposit: 6n * E18 });
    chain.emit("PaymentChannels", "SessionKeySet", {
      channelId: CHANNEL,
      sessionKey: SESSION2,
      expiresAt: 1_900_000_000,
    });
    chain.emit("PaymentChannels", "SessionKeyRevoked", {
      channelId: CHANNEL,
      sessionKey: SESSION2,
      validUntil: 1_750_000_000,
    });
    chain.emit("PaymentChannels", "VoucherRedeemed", {
      channelId: CHANNEL,
      modelId: 1n,
      signer: SESSION,
      cumulativeAmount: 2n * E18,
      amount: 2n * E18,
    });
    chain.emit("PaymentChannels", "VoucherRedeemed", {
      channelId: CHANNEL,
      modelId: 1n,
      signer: SESSION,
      cumulativeAmount: 3n * E18,
      amount: E18,
    });
    chain.emit("RewardDistributor", "RevenueDeposited", {
      modelId: 1n,
      from: MARKET,
      amount: 3n * E18,
      totalRevenue: 3n * E18,
    });
    chain.emit("RewardDistributor", "SharesPaid", {
      modelId: 1n,
      owner: BUILDER,
      ownerAmount: 15n * 10n ** 17n,
      trainer: TRAINER,
      trainerAmount: 3n * 10n ** 17n,
      treasury: TREASURY,
      protocolAmount: 15n * 10n ** 16n,
    });
    chain.emit("RewardDistributor", "RewardClaimed", {
      modelId: 1n,
      account: ALICE,
      datanetId: 1n,
      contributionId: 2n,
      weight: 500n,
      amount: 10n ** 17n,
      totalClaimed: 10n ** 17n,
    });
    chain.emit("RewardDistributor", "ClaimWindowUpdated", { claimWindow: 180 * 86_400 });
    chain.emit("RewardDistributor", "UnclaimedSwept", {
      modelId: 1n,
      unclaimedWeight: 250n,
      amount: 5n * 10n ** 16n,
      totalSwept: 5n * 10n ** 16n,
    });
    chain.emit("PaymentChannels", "WithdrawalRequested", {
      channelId: CHANNEL,
      payer: PAYER,
      withdrawableAt: 1_700_200_000,
    });
    chain.mine();
    let c = await one(
      `channel(id: "${CHANNEL}") { payer { id } provider { id } modelId model { id } deposit redeemed sessionKey sessionKeyExpiresAt withdrawableAt withdrawn closed }`,
    );
    assert.deepEqual(c, {
      payer: { id: PAYER },
      provider: { id: TRAINER },
      modelId: "1",
      model: { id: "1" },
      deposit: String(6n * E18),
      redeemed: String(3n * E18),
      sessionKey: SESSION2,
      sessionKeyExpiresAt: "1750000000",
      withdrawableAt: "1700200000",
      withdrawn: "0",
      closed: false,
    });
    chain.emit("PaymentChannels", "ChannelWithdrawn", { channelId: CHANNEL, payer: PAYER, amount: 3n * E18 });
    chain.mine();
    c = await one(`channel(id: "${CHANNEL}") { withdrawn closed }`);
    assert.deepEqual(c, { withdrawn: String(3n * E18), closed: true });
    const r = await one(
      `modelRewards(id: "1") { revenue ownerPaid trainerPaid protocolPaid contributorsClaimed swept }`,
    );
    assert.deepEqual(r, {
      swept: String(5n * 10n ** 16n),
      revenue: String(3n * E18),
      ownerPaid: String(15n * 10n ** 17n),
      trainerPaid: String(3n * 10n ** 17n),
      protocolPaid: String(15n * 10n ** 16n),
      contributorsClaimed: String(10n ** 17n),
    });
    const s = await one(
      `protocolStats(id: "protocol") { channelCount totalVoucherRevenue totalRevenue totalRewardsClaimed }`,
    );
    assert.deepEqual(s, {
      channelCount: 1,
      totalVoucherRevenue: String(3n * E18),
      totalRevenue: String(3n * E18),
      totalRewardsClaimed: String(10n ** 17n),
    });
    assert.equal((await one(`account(id: "${PAYER}") { channels { id } }`)).channels.length, 1);
    const ev = await chain.query(
      `{ channelOpeneds { amount } channelToppedUps { deposit } sessionKeySets { sessionKey } sessionKeyRevokeds { validUntil } voucherRedeemeds(orderBy: cumulativeAmount) { amount } withdrawalRequesteds { withdrawableAt } channelWithdrawns { amount } revenueDepositeds { totalRevenue } sharesPaids { protocolAmount treasury } rewardClaimeds { weight account { id } datanetId contributionId } unclaimedSwepts { modelId unclaimedWeight amount totalSwept } claimWindowUpdateds { claimWindow } }`,
    );
    assert.deepEqual(ev.voucherRedeemeds, [{ amount: String(2n * E18) }, { amount: String(E18) }]);
    assert.deepEqual(ev.rewardClaimeds, [{ weight: "500", account: { id: ALICE }, datanetId: "1", contributionId: "2" }]);
    assert.deepEqual(ev.claimWindowUpdateds, [{ claimWindow: String(180 * 86_400) }]);
    assert.deepEqual(ev.unclaimedSwepts, [{ modelId: "1", unclaimedWeight: "250", amount: String(5n * 10n ** 16n), totalSwept: String(5n * 10n ** 16n) }]);
    assert.equal(ev.sharesPaids[0].treasury, TREASURY);
    for (const k of [
      "channelOpeneds",
      "channelToppedUps",
      "sessionKeySets",
      "sessionKeyRevokeds",
      "withdrawalRequesteds",
      "channelWithdrawns",
      "revenueDepositeds",
    ]) {
      assert.equal(ev[k].length, 1, k);
    }
  });

  it("funds a Datanet pool, creates a distribution and pays a claim", async () => {
    // by position: the last parameter is named poolBalance or balance depending on the contracts' version
    chain.emit("RewardDistributor", "DatanetPoolFunded", [1n, MARKET, 10n * E18, 10n * E18]);
    chain.emit("RewardDistributor", "PoolDistributionCreated", {
      distributionId: 1n,
      datanetId: 1n,
      curator: CURATOR2,
      root: b32(0xd15),
      totalWeight: 100n,
      amount: 5n * E18,
      reportCID: "bafy-dist",
    });
    chain.emit("RewardDistributor", "PoolRewardClaimed", {
      distributionId: 1n,
      datanetId: 1n,
      account: ALICE,
      weight: 50n,
      amount: 25n * 10n ** 17n,
    });
    chain.mine();
    const p = await one(
      `rewardPool(id: "1") { datanet { id rewardPool { id } } balance totalFunded totalDistributed totalClaimed distributions { id amount claimed curator { id } root reportCID } }`,
    );
    assert.deepEqual(p, {
      datanet: { id: "1", rewardPool: { id: "1" } },
      balance: String(5n * E18),
      totalFunded: String(10n * E18),
      totalDistributed: String(5n * E18),
      totalClaimed: String(25n * 10n ** 17n),
      distributions: [
        {
          id: "1",
          amount: String(5n * E18),
          claimed: String(25n * 10n ** 17n),
          curator: { id: CURATOR2 },
          root: b32(0xd15),
          reportCID: "bafy-dist",
        },
      ],
    });
    const alice = await one(`account(id: "${ALICE}") { rewardsClaimed }`);
    assert.equal(alice.rewardsClaimed, String(10n ** 17n + 25n * 10n ** 17n));
    const ev = await chain.query(
      `{ datanetPoolFundeds { poolBalance } poolDistributionCreateds { amount } poolRewardClaimeds { weight } }`,
    );
    assert.deepEqual(ev, {
      datanetPoolFundeds: [{ poolBalance: String(10n * E18) }],
      poolDistributionCreateds: [{ amount: String(5n * E18) }],
      poolRewardClaimeds: [{ weight: "50" }],
    });
  });
});

describe("UsageEpochs handlers", () => {
  it("follows a model's held revenue, its epochs from commit to claims, challenges and releases", async () => {
    const CH2 = b32(0xc4b);
    chain.emit("UsageEpochs", "ParamsUpdated", { challengeWindow: 600, releaseDelay: 86_400, providerBond: 10n * E18 });
    chain.emit("UsageEpochs", "UsageGameSet", { game: ARBITER });
    chain.emit("UsageEpochs", "UsageEpochsEnabled", { modelId: 1n, owner: BUILDER });
    chain.emit("UsageEpochs", "RevenueHeld", { modelId: 1n, from: MARKET, amount: 4n * E18, held: 4n * E18 });
    chain.emit("UsageEpochs", "RevenueHeld", { modelId: 1n, from: MARKET, amount: 2n * E18, held: 6n * E18 });
    chain.emit("UsageEpochs", "RevenueForwarded", { modelId: 1n, amount: E18 });
    chain.emit("UsageEpochs", "ChannelAccounted", { epochId: 1n, channelId: CHANNEL, fromCumulative: 0n, toCumulative: 3n * E18 });
    chain.emit("UsageEpochs", "ChannelAccounted", { epochId: 1n, channelId: CH2, fromCumulative: 0n, toCumulative: 2n * E18 });
    chain.emit("UsageEpochs", "EpochCommitted", { epochId: 1n, modelId: 1n, provider: TRAINER, revenue: 5n * E18, citedRevenue: 2n * E18, requests: 7, recordsRoot: b32(0x5ec), claimsRoot: b32(0xc1a), claimableAt: 1_700_000_600n, reportCID: "bafyusage1" }, TRAINER);
    chain.mine();
    chain.emit("UsageEpochs", "ChannelAccounted", { epochId: 2n, channelId: CHANNEL, fromCumulative: 3n * E18, toCumulative: 4n * E18 });
    chain.emit("UsageEpochs", "EpochCommitted", { epochId: 2n, modelId: 1n, provider: TRAINER, revenue: E18, citedRevenue: E18, requests: 1, recordsRoot: b32(0x5ed), claimsRoot: b32(0xc1b), claimableAt: 1_700_000_700n, reportCID: "bafyusage2" }, TRAINER);
    chain.emit("UsageEpochs", "EpochChallenged", { epochId: 2n, challenger: BOB, bond: 10n * E18, reasonCID: "bafyreason" }, BOB);
    chain.emit("UsageEpochs", "EpochResolved", { epochId: 2n, upheld: false }, ARBITER);
    chain.emit("UsageEpochs", "EpochFinalized", { epochId: 1n, pool: 13n * 10n ** 17n, ownerAmount: 4n * 10n ** 17n, trainerAmount: 2n * 10n ** 17n, protocolAmount: 10n ** 17n, forwarded: 3n * E18 });
    chain.emit("UsageEpochs", "UsageClaimed", { epochId: 1n, modelId: 1n, account: ALICE, amount: E18 }, ALICE);
    chain.emit("UsageEpochs", "UsageClaimed", { epochId: 1n, modelId: 1n, account: BOB, amount: 3n * 10n ** 17n }, BOB);
    chain.emit("UsageEpochs", "RevenueReleased", { modelId: 2n, caller: PAYER, amount: E18 });
    chain.mine();
    const d = await chain.query(`{
      modelUsage(id: "1") { enabled held released revenue citedRevenue claimed epochCount model { id } epochs(orderBy: epochId) { id } }
      other: modelUsage(id: "2") { enabled held released }
      e1: usageEpoch(id: "1") { provider { id } revenue citedRevenue requests reportCID status pool ownerAmount forwarded claimed claimCount claimableAt channels(orderBy: toCumulative) { channelId toCumulative } claims(orderBy: amount) { account { id } amount } }
      e2: usageEpoch(id: "2") { status challenger { id } pool claimed }
      account(id: "${ALICE}") { usageClaims { epoch { id } amount } }
    }`);
    assert.deepEqual(d.modelUsage, {
      enabled: true,
      held: "0",
      released: "0",
      revenue: String(6n * E18),
      citedRevenue: String(3n * E18),
      claimed: String(13n * 10n ** 17n),
      epochCount: 2,
      model: { id: "1" },
      epochs: [{ id: "1" }, { id: "2" }],
    });
    assert.deepEqual(d.other, { enabled: false, held: "0", released: String(E18) }, "a model without usage epochs: revenue passes on");
    assert.deepEqual(d.e1, {
      provider: { id: TRAINER },
      revenue: String(5n * E18),
      citedRevenue: String(2n * E18),
      requests: 7,
      reportCID: "bafyusage1",
      status: "Finalized",
      pool: String(13n * 10n ** 17n),
      ownerAmount: String(4n * 10n ** 17n),
      forwarded: String(3n * E18),
      claimed: String(13n * 10n ** 17n),
      claimCount: 2,
      claimableAt: "1700000600",
      channels: [
        { channelId: CH2, toCumulative: String(2n * E18) },
        { channelId: CHANNEL, toCumulative: String(3n * E18) },
      ],
      claims: [
        { account: { id: BOB }, amount: String(3n * 10n ** 17n) },
        { account: { id: ALICE }, amount: String(E18) },
      ],
    });
    assert.deepEqual(d.e2, { status: "Voided", challenger: { id: BOB }, pool: null, claimed: "0" });
    assert.deepEqual(d.account.usageClaims, [{ epoch: { id: "1" }, amount: String(E18) }]);
  });
});

describe("VerifierPool handlers", () => {
  it("follows verifiers' stakes, exits and withdrawals, and the pool totals", async () => {
    chain.emit("VerifierPool", "GamesSet", { games: [GAME, UGAME] });
    for (const v of VERIFIERS) chain.emit("VerifierPool", "VerifierStaked", { verifier: v, amount: 100n * E18, stake: 100n * E18 }, v);
    chain.emit("VerifierPool", "VerifierStaked", { verifier: V(1), amount: 50n * E18, stake: 150n * E18 }, V(1));
    chain.emit("VerifierPool", "VerifierStaked", { verifier: LEAVER, amount: 100n * E18, stake: 100n * E18 }, LEAVER);
    chain.emit("VerifierPool", "VerifierExitRequested", { verifier: LEAVER, exitAt: 1_700_100_000 }, LEAVER);
    chain.mine();
    let d = await chain.query(`{
      verifier(id: "${V(1)}") { account { id } stake active exitAt withdrawn taken seatCount paid }
      leaver: verifier(id: "${LEAVER}") { stake active exitAt }
      protocolStats(id: "protocol") { verifierCount totalVerifierStake }
      gamesSets { games }
    }`);
    assert.deepEqual(d.verifier, {
      account: { id: V(1) },
      stake: String(150n * E18),
      active: true,
      exitAt: null,
      withdrawn: "0",
      taken: "0",
      seatCount: 0,
      paid: "0",
    });
    assert.deepEqual(d.leaver, { stake: String(100n * E18), active: true, exitAt: "1700100000" });
    assert.deepEqual(d.protocolStats, { verifierCount: 8, totalVerifierStake: String(850n * E18) });
    assert.deepEqual(d.gamesSets, [{ games: [GAME, UGAME] }]);
    // staking again cancels the exit; a second exit, then the whole stake is withdrawn and the verifier unlisted
    chain.emit("VerifierPool", "VerifierStaked", { verifier: LEAVER, amount: 10n * E18, stake: 110n * E18 }, LEAVER);
    chain.mine();
    assert.deepEqual(await one(`verifier(id: "${LEAVER}") { stake exitAt }`), { stake: String(110n * E18), exitAt: null });
    chain.emit("VerifierPool", "VerifierExitRequested", { verifier: LEAVER, exitAt: 1_700_200_000 }, LEAVER);
    chain.mine();
    chain.emit("VerifierPool", "VerifierWithdrawn", { verifier: LEAVER, amount: 110n * E18 }, LEAVER);
    chain.mine();
    d = await chain.query(`{
      verifier(id: "${LEAVER}") { stake active exitAt withdrawn }
      protocolStats(id: "protocol") { verifierCount totalVerifierStake }
      verifierStakeds(where: { verifier: "${LEAVER}" }, orderBy: stake) { amount stake }
      verifierExitRequesteds(orderBy: exitAt) { verifier { id } exitAt }
      verifierWithdrawns { verifier { id } amount }
    }`);
    assert.deepEqual(d.verifier, { stake: "0", active: false, exitAt: null, withdrawn: String(110n * E18) });
    assert.deepEqual(d.protocolStats, { verifierCount: 7, totalVerifierStake: String(750n * E18) });
    assert.deepEqual(d.verifierStakeds, [
      { amount: String(100n * E18), stake: String(100n * E18) },
      { amount: String(10n * E18), stake: String(110n * E18) },
    ]);
    assert.deepEqual(d.verifierExitRequesteds.map((e: Data) => e.exitAt), ["1700100000", "1700200000"]);
    assert.deepEqual(d.verifierWithdrawns, [{ verifier: { id: LEAVER }, amount: String(110n * E18) }]);
  });
});

describe("DisputeGame handlers", () => {
  const voteQ = `{ verifier { id } committed revealed verdict paid penalised }`;

  it("follows a replay dispute through bisection, a split committee, a redraw and the verdict", async () => {
    const ROOT = b32(0x7001);
    chain.emit("DisputeGame", "CheckpointsCommitted", { jobId: 1n, trainer: TRAINER, root: ROOT, count: 5 }, TRAINER);
    chain.mine();
    assert.deepEqual(await one(`job(id: "1") { checkpointRoot checkpointCount checkpointsBy { id } evalLoss }`), {
      checkpointRoot: ROOT,
      checkpointCount: 5,
      checkpointsBy: { id: TRAINER },
      evalLoss: null,
    });
    chain.emit("DisputeGame", "ChallengeOpened", { disputeId: 1n, jobId: 1n, challenger: BOB, bond: 20n * E18, reasonCID: "bafy-why" }, BOB);
    chain.mine();
    const dq = `dispute(id: "1") { status outcome moves lo span node round seats committee commits reveals drawBlock revealStartsAt segmentIndex prevState state trainerWon }`;
    let d = await one(`dispute(id: "1") { job { id } trainer { id } challenger { id } bond reasonCID eval status outcome moves lo span node round seats committee }`);
    assert.deepEqual(d, {
      job: { id: "1" },
      trainer: { id: TRAINER },
      challenger: { id: BOB },
      bond: String(20n * E18),
      reasonCID: "bafy-why",
      eval: false,
      status: "TrainerMove",
      outcome: "None",
      moves: 0,
      // the root of the trainer's 5 checkpoints, padded to 8 leaves
      lo: 0,
      span: 8,
      node: ROOT,
      round: 0,
      seats: 0,
      committee: [],
    });
    assert.equal((await one(`protocolStats(id: "protocol") { disputeCount }`)).disputeCount, 1);
    chain.emit("DisputeGame", "ChildrenRevealed", { disputeId: 1n, move: 1, left: b32(0x71), right: b32(0x72) }, TRAINER);
    chain.mine();
    d = await one(dq);
    assert.equal(d.status, "ChallengerMove");
    assert.equal(d.moves, 1);
    chain.emit("DisputeGame", "ChildChosen", { disputeId: 1n, move: 2, lo: 4, span: 4, node: b32(0x72) }, BOB);
    chain.emit("DisputeGame", "ChildrenRevealed", { disputeId: 1n, move: 3, left: b32(0x73), right: b32(0x74) }, TRAINER);
    chain.emit("DisputeGame", "ChildChosen", { disputeId: 1n, move: 4, lo: 4, span: 2, node: b32(0x73) }, BOB);
    chain.emit("DisputeGame", "ChildrenRevealed", { disputeId: 1n, move: 5, left: b32(0x75), right: b32(0x76) }, TRAINER);
    chain.emit("DisputeGame", "ChildChosen", { disputeId: 1n, move: 6, lo: 5, span: 1, node: b32(0x76) }, BOB);
    chain.mine();
    d = await one(dq);
    assert.deepEqual([d.status, d.moves, d.lo, d.span, d.node], ["TrainerMove", 6, 5, 1, b32(0x76)]);
    chain.emit("DisputeGame", "SegmentProven", { disputeId: 1n, index: 5, prevState: b32(0x5a), state: b32(0x5b), drawBlock: 120n }, TRAINER);
    chain.mine();
    d = await one(dq);
    assert.deepEqual(
      [d.status, d.seats, d.segmentIndex, d.prevState, d.state, d.drawBlock],
      ["AwaitingDraw", 3, 5, b32(0x5a), b32(0x5b), "120"],
    );
    chain.emit("DisputeGame", "DrawDeferred", { disputeId: 1n, drawBlock: 400n });
    chain.mine();
    assert.equal((await one(dq)).drawBlock, "400");

    // round 0: three seats, all commit (the reveal opens at once), one never reveals: split, penalty, redraw
    const first = [V(1), V(2), V(3)];
    chain.emit("DisputeGame", "CommitteeDrawn", { disputeId: 1n, round: 0, members: first, revealStartsAt: 1_800_000_000 });
    chain.mine();
    d = await one(dq);
    assert.deepEqual([d.status, d.round, d.seats, d.committee, d.revealStartsAt], ["Voting", 0, 3, first, "1800000000"]);
    assert.deepEqual(await one(`dispute(id: "1") { votes(orderBy: id) ${voteQ} }`), {
      votes: first.map((v) => ({ verifier: { id: v }, committed: false, revealed: false, verdict: null, paid: "0", penalised: "0" })),
    });
    chain.emit("DisputeGame", "VoteCommitted", { disputeId: 1n, round: 0, verifier: V(1) }, V(1));
    chain.emit("DisputeGame", "VoteCommitted", { disputeId: 1n, round: 0, verifier: V(2) }, V(2));
    chain.mine();
    d = await one(dq);
    assert.deepEqual([d.commits, d.revealStartsAt], [2, "1800000000"]);
    chain.emit("DisputeGame", "VoteCommitted", { disputeId: 1n, round: 0, verifier: V(3) }, V(3));
    const allCommittedBlock = chain.mine();
    d = await one(dq);
    assert.deepEqual([d.commits, d.revealStartsAt], [3, String(1_700_000_000 + allCommittedBlock * 12)]);
    chain.emit("DisputeGame", "VoteRevealed", { disputeId: 1n, round: 0, verifier: V(1), verdict: b32(0x5b), witness: b32(0x1) }, V(1));
    chain.emit("DisputeGame", "VoteRevealed", { disputeId: 1n, round: 0, verifier: V(2), verdict: b32(0xbad), witness: b32(0x2) }, V(2));
    chain.mine();
    assert.equal((await one(dq)).reveals, 2);
    chain.emit("DisputeGame", "VerifierPenalised", { disputeId: 1n, verifier: V(3), amount: 5n * E18 });
    chain.emit("VerifierPool", "StakeTaken", { game: GAME, verifier: V(3), amount: 5n * E18 });
    chain.emit("DisputeGame", "CommitteeSplit", { disputeId: 1n, round: 0, nextSeats: 7, drawBlock: 520n });
    chain.mine();
    d = await one(dq);
    assert.deepEqual(
      [d.status, d.round, d.seats, d.committee, d.commits, d.reveals, d.drawBlock, d.revealStartsAt],
      ["AwaitingDraw", 1, 7, [], 0, 0, "520", null],
    );
    const v3 = `${"1"}-0-${V(3)}`;
    assert.deepEqual(await one(`disputeVote(id: "${v3}") { round committed revealed penalised }`), {
      round: 0,
      committed: true,
      revealed: false,
      penalised: String(5n * E18),
    });
    assert.deepEqual(await one(`verifier(id: "${V(3)}") { stake taken penaltyCount seatCount }`), {
      stake: String(95n * E18),
      taken: String(5n * E18),
      penaltyCount: 1,
      seatCount: 1,
    });
    assert.equal((await one(`protocolStats(id: "protocol") { totalVerifierStake }`)).totalVerifierStake, String(745n * E18));

    // round 1: seven seats, six agree with the trainer's state: it wins; the dissenter pays, the others are paid
    chain.emit("DisputeGame", "CommitteeDrawn", { disputeId: 1n, round: 1, members: VERIFIERS, revealStartsAt: 1_800_001_000 });
    for (const v of VERIFIERS) chain.emit("DisputeGame", "VoteCommitted", { disputeId: 1n, round: 1, verifier: v }, v);
    chain.mine();
    VERIFIERS.forEach((v, i) =>
      chain.emit("DisputeGame", "VoteRevealed", { disputeId: 1n, round: 1, verifier: v, verdict: i === 6 ? b32(0xbad) : b32(0x5b), witness: b32(0x9) }, v),
    );
    chain.emit("DisputeGame", "VerifierPenalised", { disputeId: 1n, verifier: V(7), amount: 5n * E18 });
    chain.emit("VerifierPool", "StakeTaken", { game: GAME, verifier: V(7), amount: 5n * E18 });
    for (let i = 1; i <= 6; i++) chain.emit("DisputeGame", "VerifierPaid", { disputeId: 1n, verifier: V(i), amount: 2n * E18 });
    chain.emit("DisputeGame", "DisputeSettled", { disputeId: 1n, jobId: 1n, trainerWins: true, outcome: 1 });
    chain.emit("DisputeGame", "Withdrawn", { account: V(1), amount: 2n * E18 }, V(1));
    const settledBlock = chain.mine();
    d = await chain.query(`{
      dispute(id: "1") { status outcome trainerWon settledAt round seats committee commits reveals
        r1: votes(where: { round: 1 }, orderBy: id) ${voteQ}
        r0: votes(where: { round: 0 }) { id } }
      v1: verifier(id: "${V(1)}") { seatCount paid paymentCount penaltyCount votes { id } }
      v7: verifier(id: "${V(7)}") { stake paid penaltyCount }
      job(id: "1") { disputes { id } }
      disputeSettleds { dispute { id } job { id } trainerWins outcome }
      disputeGameWithdrawals { account { id } amount }
    }`);
    assert.deepEqual(
      [d.dispute.status, d.dispute.outcome, d.dispute.trainerWon, d.dispute.settledAt],
      ["Settled", "CommitteeVerdict", true, String(1_700_000_000 + settledBlock * 12)],
    );
    assert.deepEqual([d.dispute.round, d.dispute.seats, d.dispute.committee, d.dispute.commits, d.dispute.reveals], [1, 7, VERIFIERS, 7, 7]);
    assert.equal(d.dispute.r0.length, 3);
    assert.deepEqual(
      d.dispute.r1,
      [...VERIFIERS].sort().map((v) => ({
        verifier: { id: v },
        committed: true,
        revealed: true,
        verdict: v === V(7) ? b32(0xbad) : b32(0x5b),
        paid: v === V(7) ? "0" : String(2n * E18),
        penalised: v === V(7) ? String(5n * E18) : "0",
      })),
    );
    assert.deepEqual(
      [d.v1.seatCount, d.v1.paid, d.v1.paymentCount, d.v1.penaltyCount, d.v1.votes.length],
      [2, String(2n * E18), 1, 0, 2],
    );
    assert.deepEqual(d.v7, { stake: String(95n * E18), paid: "0", penaltyCount: 1 });
    assert.deepEqual(d.job.disputes, [{ id: "1" }]);
    assert.deepEqual(d.disputeSettleds, [{ dispute: { id: "1" }, job: { id: "1" }, trainerWins: true, outcome: "CommitteeVerdict" }]);
    assert.deepEqual(d.disputeGameWithdrawals, [{ account: { id: V(1) }, amount: String(2n * E18) }]);
  });

  it("draws an eval dispute's committee at once and follows it to a stuck vote and an emergency ruling", async () => {
    chain.emit("DisputeGame", "EvalClaimCommitted", { jobId: 1n, trainer: TRAINER, loss: 1_234_567n, toleranceBps: 500 }, TRAINER);
    chain.mine();
    assert.deepEqual(await one(`job(id: "1") { evalLoss evalToleranceBps checkpointCount }`), {
      evalLoss: "1234567",
      evalToleranceBps: 500,
      checkpointCount: 5,
    });
    chain.emit("DisputeGame", "ChallengeOpened", { disputeId: 2n, jobId: 1n, challenger: ALICE, bond: 20n * E18, reasonCID: "bafy-eval" }, ALICE);
    chain.emit("DisputeGame", "EvalDisputeOpened", { disputeId: 2n, jobId: 1n, loss: 1_234_567n, toleranceBps: 500, drawBlock: 77n }, ALICE);
    chain.mine();
    const dq = `dispute(id: "2") { eval evalLoss evalToleranceBps status seats lo span node drawBlock moves outcome emergencyTrainerWins emergencyExecutableAt trainerWon }`;
    assert.deepEqual(await one(dq), {
      eval: true,
      evalLoss: "1234567",
      evalToleranceBps: 500,
      status: "AwaitingDraw",
      seats: 3,
      // no bisection for an eval dispute, although the job has a checkpoint commitment
      lo: null,
      span: null,
      node: null,
      drawBlock: "77",
      moves: 0,
      outcome: "None",
      emergencyTrainerWins: null,
      emergencyExecutableAt: null,
      trainerWon: null,
    });
    chain.emit("DisputeGame", "CommitteeDrawn", { disputeId: 2n, round: 0, members: [V(4), V(5), V(6)], revealStartsAt: 1_800_000_000 });
    chain.mine();
    chain.emit("DisputeGame", "CommitteeSplit", { disputeId: 2n, round: 0, nextSeats: 7, drawBlock: 900n });
    chain.mine();
    chain.emit("DisputeGame", "CommitteeDrawn", { disputeId: 2n, round: 1, members: VERIFIERS, revealStartsAt: 1_800_002_000 });
    chain.mine();
    chain.emit("DisputeGame", "DisputeStuck", { disputeId: 2n });
    chain.mine();
    assert.equal((await one(dq)).status, "Stuck");
    chain.emit("DisputeGame", "EmergencyScheduled", { disputeId: 2n, trainerWins: false, executableAt: 1_800_100_000 }, ARBITER);
    chain.mine();
    let d = await one(dq);
    assert.deepEqual([d.status, d.emergencyTrainerWins, d.emergencyExecutableAt], ["EmergencyScheduled", false, "1800100000"]);
    chain.emit("DisputeGame", "DisputeSettled", { disputeId: 2n, jobId: 1n, trainerWins: false, outcome: 4 });
    chain.emit("DisputeGame", "EmergencyTransferStarted", { from: ARBITER, to: TREASURY }, ARBITER);
    chain.emit("DisputeGame", "EmergencyTransferred", { from: ARBITER, to: TREASURY }, TREASURY);
    chain.mine();
    d = await one(dq);
    assert.deepEqual([d.status, d.outcome, d.trainerWon], ["Settled", "Emergency", false]);
    const ev = await chain.query(`{
      evalDisputeOpeneds { dispute { id } job { id } loss toleranceBps drawBlock }
      disputeCommitteeDrawns(where: { dispute: "2" }, orderBy: round) { round members }
      disputeStucks { dispute { id } }
      disputeEmergencyTransferStarteds { from to }
      disputeEmergencyTransferreds { from to }
      job(id: "1") { disputes(orderBy: disputeId) { id eval } }
      protocolStats(id: "protocol") { disputeCount }
    }`);
    assert.deepEqual(ev.evalDisputeOpeneds, [{ dispute: { id: "2" }, job: { id: "1" }, loss: "1234567", toleranceBps: 500, drawBlock: "77" }]);
    assert.deepEqual(ev.disputeCommitteeDrawns.map((e: Data) => [e.round, e.members.length]), [[0, 3], [1, 7]]);
    assert.deepEqual(ev.disputeStucks, [{ dispute: { id: "2" } }]);
    assert.deepEqual(ev.disputeEmergencyTransferStarteds, [{ from: ARBITER, to: TREASURY }]);
    assert.deepEqual(ev.disputeEmergencyTransferreds, [{ from: ARBITER, to: TREASURY }]);
    assert.deepEqual(ev.job.disputes, [{ id: "1", eval: false }, { id: "2", eval: true }]);
    assert.equal(ev.protocolStats.disputeCount, 2);
  });

  it("starts no bisection from a commitment an earlier trainer made, and settles a silent trainer's loss", async () => {
    // job 4's trainer is TRAINER; the commitment is another account's
    chain.emit("DisputeGame", "CheckpointsCommitted", { jobId: 4n, trainer: OWNER, root: b32(0x7004), count: 3 }, OWNER);
    chain.emit("DisputeGame", "ChallengeOpened", { disputeId: 3n, jobId: 4n, challenger: BOB, bond: 20n * E18, reasonCID: "bafy-3" }, BOB);
    chain.mine();
    const dq = `dispute(id: "3") { trainer { id } status lo span node outcome trainerWon }`;
    assert.deepEqual(await one(dq), {
      trainer: { id: TRAINER },
      status: "TrainerMove",
      lo: null,
      span: null,
      node: null,
      outcome: "None",
      trainerWon: null,
    });
    chain.emit("DisputeGame", "DisputeSettled", { disputeId: 3n, jobId: 4n, trainerWins: false, outcome: 2 });
    chain.mine();
    const d = await one(dq);
    assert.deepEqual([d.status, d.outcome, d.trainerWon], ["Settled", "TrainerSilent", false]);
    assert.deepEqual(await one(`checkpointsCommitteds(orderBy: blockNumber) { job { id } trainer { id } count }`), [
      { job: { id: "1" }, trainer: { id: TRAINER }, count: 5 },
      { job: { id: "4" }, trainer: { id: OWNER }, count: 3 },
    ]);
  });
});

describe("UsageGame handlers", () => {
  it("follows a usage dispute from the challenge through the committee's votes to its verdict", async () => {
    const members = [V(1), V(2), V(4)];
    chain.emit("UsageGame", "ChallengeOpened", { disputeId: 1n, epochId: 1n, challenger: BOB, bond: 10n * E18, reasonCID: "bafy-usage-why", drawBlock: 60n }, BOB);
    chain.mine();
    const dq = `usageDispute(id: "1") { epoch { id } provider { id } challenger { id } bond reasonCID round seats committee seed commits reveals drawBlock revealStartsAt status outcome providerWon settledAt }`;
    assert.deepEqual(await one(dq), {
      epoch: { id: "1" },
      provider: { id: TRAINER },
      challenger: { id: BOB },
      bond: String(10n * E18),
      reasonCID: "bafy-usage-why",
      round: 0,
      seats: 3,
      committee: [],
      seed: null,
      commits: 0,
      reveals: 0,
      drawBlock: "60",
      revealStartsAt: null,
      status: "AwaitingDraw",
      outcome: "None",
      providerWon: null,
      settledAt: null,
    });
    chain.emit("UsageGame", "CommitteeDrawn", { disputeId: 1n, round: 0, members, seed: b32(0x5eed), revealStartsAt: 1_800_000_000 });
    chain.mine();
    let d = await one(dq);
    assert.deepEqual([d.status, d.committee, d.seed, d.revealStartsAt], ["Voting", members, b32(0x5eed), "1800000000"]);
    for (const v of members) chain.emit("UsageGame", "VoteCommitted", { disputeId: 1n, round: 0, verifier: v }, v);
    const committedBlock = chain.mine();
    d = await one(dq);
    assert.deepEqual([d.commits, d.revealStartsAt], [3, String(1_700_000_000 + committedBlock * 12)]);
    members.forEach((v, i) =>
      chain.emit("UsageGame", "VoteRevealed", { disputeId: 1n, round: 0, verifier: v, verdict: i === 2 ? b32(0xa) : b32(0xb), witness: b32(0xc) }, v),
    );
    chain.emit("UsageGame", "VerifierPenalised", { disputeId: 1n, verifier: V(4), amount: E18 });
    chain.emit("VerifierPool", "StakeTaken", { game: UGAME, verifier: V(4), amount: E18 });
    chain.emit("UsageGame", "VerifierPaid", { disputeId: 1n, verifier: V(1), amount: 3n * E18 });
    chain.emit("UsageGame", "VerifierPaid", { disputeId: 1n, verifier: V(2), amount: 3n * E18 });
    chain.emit("UsageGame", "DisputeSettled", { disputeId: 1n, epochId: 1n, providerWins: false, outcome: 1 });
    chain.emit("UsageGame", "Withdrawn", { account: BOB, amount: 14n * E18 }, BOB);
    const settledBlock = chain.mine();
    d = await chain.query(`{
      ${dq.replace("usageDispute(", "x: usageDispute(")}
      votes: usageDisputeVotes(where: { dispute: "1" }, orderBy: id) { round verifier { id } committed revealed verdict paid penalised }
      usageEpoch(id: "1") { disputes { id } }
      v4: verifier(id: "${V(4)}") { stake taken penaltyCount usageVotes { id } }
      v1: verifier(id: "${V(1)}") { paid paymentCount seatCount }
      usageDisputeSettleds { dispute { id } epoch { id } providerWins outcome }
      usageGameWithdrawals { account { id } amount }
      protocolStats(id: "protocol") { usageDisputeCount totalVerifierStake }
    }`);
    assert.deepEqual(
      [d.x.status, d.x.outcome, d.x.providerWon, d.x.reveals, d.x.settledAt],
      ["Settled", "CommitteeVerdict", false, 3, String(1_700_000_000 + settledBlock * 12)],
    );
    assert.deepEqual(
      d.votes,
      [...members].sort().map((v) => ({
        round: 0,
        verifier: { id: v },
        committed: true,
        revealed: true,
        verdict: v === V(4) ? b32(0xa) : b32(0xb),
        paid: v === V(4) ? "0" : String(3n * E18),
        penalised: v === V(4) ? String(E18) : "0",
      })),
    );
    assert.deepEqual(d.usageEpoch.disputes, [{ id: "1" }]);
    assert.deepEqual(d.v4, { stake: String(99n * E18), taken: String(E18), penaltyCount: 1, usageVotes: [{ id: `1-0-${V(4)}` }] });
    // V(1) was also paid 2 OPEN in the job dispute, and sat on its two committees and the eval dispute's second
    assert.deepEqual(d.v1, { paid: String(5n * E18), paymentCount: 2, seatCount: 4 });
    assert.deepEqual(d.usageDisputeSettleds, [{ dispute: { id: "1" }, epoch: { id: "1" }, providerWins: false, outcome: "CommitteeVerdict" }]);
    assert.deepEqual(d.usageGameWithdrawals, [{ account: { id: BOB }, amount: String(14n * E18) }]);
    assert.deepEqual(d.protocolStats, { usageDisputeCount: 1, totalVerifierStake: String(739n * E18) });
  });

  it("redraws a split committee, defers a stale draw, and settles a stuck dispute by emergency", async () => {
    chain.emit("UsageGame", "ChallengeOpened", { disputeId: 2n, epochId: 2n, challenger: ALICE, bond: 10n * E18, reasonCID: "bafy-u2", drawBlock: 70n }, ALICE);
    chain.mine();
    chain.emit("UsageGame", "DrawDeferred", { disputeId: 2n, drawBlock: 600n });
    chain.mine();
    const dq = `usageDispute(id: "2") { round seats committee drawBlock status outcome providerWon emergencyProviderWins emergencyExecutableAt }`;
    assert.equal((await one(dq)).drawBlock, "600");
    chain.emit("UsageGame", "CommitteeDrawn", { disputeId: 2n, round: 0, members: [V(5), V(6), V(7)], seed: b32(0x5eee), revealStartsAt: 1_800_000_000 });
    chain.mine();
    chain.emit("UsageGame", "CommitteeSplit", { disputeId: 2n, round: 0, nextSeats: 7, drawBlock: 700n });
    chain.mine();
    let d = await one(dq);
    assert.deepEqual([d.round, d.seats, d.committee, d.drawBlock, d.status], [1, 7, [], "700", "AwaitingDraw"]);
    chain.emit("UsageGame", "DisputeStuck", { disputeId: 2n });
    chain.mine();
    assert.equal((await one(dq)).status, "Stuck");
    chain.emit("UsageGame", "EmergencyScheduled", { disputeId: 2n, providerWins: true, executableAt: 1_800_200_000 }, ARBITER);
    chain.mine();
    d = await one(dq);
    assert.deepEqual([d.status, d.emergencyProviderWins, d.emergencyExecutableAt], ["EmergencyScheduled", true, "1800200000"]);
    chain.emit("UsageGame", "DisputeSettled", { disputeId: 2n, epochId: 2n, providerWins: true, outcome: 2 });
    chain.emit("UsageGame", "EmergencyTransferStarted", { from: ARBITER, to: TREASURY }, ARBITER);
    chain.emit("UsageGame", "EmergencyTransferred", { from: ARBITER, to: TREASURY }, TREASURY);
    chain.mine();
    d = await one(dq);
    assert.deepEqual([d.status, d.outcome, d.providerWon], ["Settled", "Emergency", true]);
    const ev = await chain.query(`{
      usageDrawDeferreds { drawBlock }
      usageCommitteeSplits { round nextSeats drawBlock }
      usageDisputeStucks { dispute { id } }
      usageEmergencyScheduleds { providerWins }
      usageEmergencyTransferStarteds { to }
      usageEmergencyTransferreds { to }
      usageEpoch(id: "2") { disputes { id challenger { id } } }
    }`);
    assert.deepEqual(ev.usageDrawDeferreds, [{ drawBlock: "600" }]);
    assert.deepEqual(ev.usageCommitteeSplits, [{ round: 0, nextSeats: 7, drawBlock: "700" }]);
    assert.deepEqual(ev.usageDisputeStucks, [{ dispute: { id: "2" } }]);
    assert.deepEqual(ev.usageEmergencyScheduleds, [{ providerWins: true }]);
    assert.deepEqual(ev.usageEmergencyTransferStarteds, [{ to: TREASURY }]);
    assert.deepEqual(ev.usageEmergencyTransferreds, [{ to: TREASURY }]);
    assert.deepEqual(ev.usageEpoch.disputes, [{ id: "2", challenger: { id: ALICE } }]);
  });
});

describe("coverage of the whole subgraph", () => {
  it("has a handler for every event of every contract interface, and each was exercised", async () => {
    const handled = chain.subgraph.dataSources.flatMap((d) => d.handlers.map((h) => h.event.name));
    const names = new Set(handled);
    assert.equal(names.size, 106);
    const d = await chain.query(
      `{ events(first: 1000) { __typename } protocolStats(id: "protocol") { eventCount accountCount } accounts(first: 1000) { id } }`,
    );
    const seen = new Set(
      // event entities are named after their events, except where the event's name is too generic
      d.events.map(
        (e: { __typename: string }) =>
          ({ JobMarketWithdrawal: "Withdrawn", ModelTransfer: "Transfer" })[e.__typename] ??
          // the dispute games' events share names: DisputeGame's are prefixed `Dispute` where taken, UsageGame's `Usage`
          e.__typename.replace(/^(Dispute|Usage)(?=ChallengeOpened|DrawDeferred|CommitteeDrawn|CommitteeSplit|Vote|Verifier|Emergency)/, "").replace(/^(DisputeGame|UsageGame)Withdrawal$/, "Withdrawn").replace(/^UsageDispute(?=Stuck|Settled)/, "Dispute"),
      ),
    );
    assert.deepEqual(
      [...names].filter((n) => !seen.has(n)),
      [],
      "events never emitted in these tests",
    );
    assert.equal(d.events.length, chain.emitted);
    assert.equal(d.protocolStats.eventCount, chain.emitted);
    assert.equal(d.protocolStats.accountCount, d.accounts.length);
    assert.deepEqual(
      chain.logs.filter((l) => l.startsWith("error")),
      [],
    );
  });
});

describe("the app's queries on the indexed data", () => {
  it("run without errors and return the data the pages need", async () => {
    const dir = join(subgraphDir, "queries");
    const vars: Record<string, Record<string, unknown>> = {
      "account.graphql": { id: TRAINER },
      "datanet.graphql": { id: "1", account: BUILDER },
      "job.graphql": { id: "1" },
      "access-requests.graphql": { datanet: "1" },
      "pending-contributions.graphql": { datanet: "1" },
      "my-grants.graphql": { account: BUILDER },
      "trainer.graphql": { id: TRAINER, trainer: TRAINER },
      "claims.graphql": { account: ALICE },
      "disputes.graphql": { job: "1" },
    };
    const results: Record<string, Data> = {};
    for (const f of readdirSync(dir).filter((x) => x.endsWith(".graphql"))) {
      results[f] = await chain.query(readFileSync(join(dir, f), "utf8"), vars[f]);
    }
    const d = results["datanet.graphql"].datanet;
    assert.equal(d.contributions.length, 3);
    assert.equal(d.pending.length, 0);
    assert.deepEqual(
      d.myGrant.map((g: { id: string }) => g.id),
      [`1-${BUILDER}`],
    );
    assert.equal(d.jobs.length, 6);
    assert.equal(d.rewardPool.distributions.length, 1);
    assert.equal(results["jobs.graphql"].jobs.length, 6);
    assert.equal(results["job.graphql"].job.model.id, "1");
    assert.equal(results["job.graphql"].jobFinalizeds.length, 1);
    assert.equal(results["account.graphql"].account.trainer[0].jobsCompleted, 1);
    assert.deepEqual(results["claims.graphql"].rewardClaimeds.map((c: { amount: string }) => c.amount), [String(10n ** 17n)]);
    assert.deepEqual(results["claims.graphql"].usageClaimeds.map((c: { amount: string }) => c.amount), [String(E18)]);
    assert.equal(results["trainers.graphql"].trainers.length, 1);
    assert.equal(results["models.graphql"].modelVersions.length, 1);
    assert.equal(results["activity.graphql"].events.length, 30);
    assert.equal(results["protocol-stats.graphql"].protocolStats.datanetCount, 1);
    assert.equal(
      results["base-models.graphql"].baseModels.length,
      results["models.graphql"].baseModels.length,
    );
    assert.deepEqual(
      results["my-grants.graphql"].accessGrants.map((g: { id: string }) => g.id),
      [`1-${BUILDER}`],
    );
    assert.equal(results["pending-contributions.graphql"].contributions.length, d.pending.length);
    const disputes = results["disputes.graphql"];
    assert.deepEqual(
      disputes.disputes.map((x: Data) => [x.id, x.status, x.outcome, x.votes.length]),
      [
        ["2", "Settled", "Emergency", 10],
        ["1", "Settled", "CommitteeVerdict", 10],
      ],
    );
    assert.equal(disputes.verifiers.length, 7, "the verifier that withdrew is not listed");
    assert.equal(disputes.verifiers[0].id, V(1));
    assert.equal(results["trainer.graphql"].trainer.jobsCompleted, 1);
    const trainerJobs = results["trainer.graphql"].trainer.jobs as Array<{
      status: string;
      trainerPayment: string | null;
    }>;
    assert.equal(trainerJobs.filter((j) => j.status === "Finalized").length, 1);
    assert.ok(trainerJobs.every((j) => j.status !== "Finalized" || BigInt(j.trainerPayment!) > 0n));
    assert.ok(Array.isArray(results["trainer.graphql"].slasheds));
    assert.equal(
      results["pool-distributions.graphql"].poolDistributions.length,
      d.rewardPool.distributions.length,
    );
    assert.equal(
      results["access-requests.graphql"].accessGrants.length,
      d.accessGrants.filter((g: { requested: boolean; active: boolean }) => g.requested && !g.active).length,
    );
  });
});
