// Matchstick tests of the JobMarket, TrainerRegistry and PaymentChannels mappings (see datanets.test.ts).
import { Address, BigInt, Bytes, ethereum } from "@graphprotocol/graph-ts";
import { assert, beforeAll, clearStore, describe, newMockEvent, test } from "matchstick-as/assembly/index";
import { JobClaimed, JobPosted, JobReclaimed } from "../generated/JobMarket/JobMarket";
import { ChannelOpened, VoucherRedeemed } from "../generated/PaymentChannels/PaymentChannels";
import { Staked } from "../generated/TrainerRegistry/TrainerRegistry";
import { handleChannelOpened, handleVoucherRedeemed } from "../src/channels";
import { handleJobClaimed, handleJobPosted, handleJobReclaimed } from "../src/jobs";
import { handleStaked } from "../src/trainers";

const BUILDER = Address.fromString("0x00000000000000000000000000000000000000b1");
const TRAINER = Address.fromString("0x0000000000000000000000000000000000000071");
const PAYER = Address.fromString("0x000000000000000000000000000000000000009a");
const CHANNEL = Bytes.fromHexString("0x" + "0c".repeat(32));
const E18 = BigInt.fromString("1000000000000000000");

let nextLog = 0;

function mock<T>(params: ethereum.EventParam[]): T {
  const e = newMockEvent();
  e.logIndex = BigInt.fromI32(nextLog++);
  e.parameters = params;
  return changetype<T>(e);
}

function p(name: string, value: ethereum.Value): ethereum.EventParam {
  return new ethereum.EventParam(name, value);
}

function posted(jobId: i32): JobPosted {
  return mock<JobPosted>([
    p("jobId", ethereum.Value.fromI32(jobId)),
    p("poster", ethereum.Value.fromAddress(BUILDER)),
    p("specCID", ethereum.Value.fromString("bafy-spec")),
    p("baseModelId", ethereum.Value.fromI32(1)),
    p("parentModelId", ethereum.Value.fromI32(0)),
    p("datanetIds", ethereum.Value.fromI32Array([1, 2])),
    p("versions", ethereum.Value.fromI32Array([3, 4])),
    p("budget", ethereum.Value.fromUnsignedBigInt(E18.times(BigInt.fromI32(100)))),
    p("dataFee", ethereum.Value.fromUnsignedBigInt(E18.times(BigInt.fromI32(10)))),
    p("duration", ethereum.Value.fromI32(3600)),
  ]);
}

describe("jobs", () => {
  beforeAll(() => {
    clearStore();
    handleStaked(
      mock<Staked>([
        p("trainer", ethereum.Value.fromAddress(TRAINER)),
        p("amount", ethereum.Value.fromUnsignedBigInt(E18)),
        p("totalStaked", ethereum.Value.fromUnsignedBigInt(E18)),
      ]),
    );
  });

  test("JobPosted opens a job with its Datanets and versions and counts the budget", () => {
    handleJobPosted(posted(1));
    assert.fieldEquals("Job", "1", "status", "Open");
    assert.fieldEquals("Job", "1", "datanets", "[1, 2]");
    assert.fieldEquals("Job", "1", "versions", "[3, 4]");
    assert.fieldEquals("Job", "1", "baseModel", "1");
    assert.fieldEquals("ProtocolStats", "protocol", "totalBudgetPosted", "100000000000000000000");
  });

  test("JobClaimed assigns the trainer; JobReclaimed reopens the job and records the slash", () => {
    handleJobClaimed(
      mock<JobClaimed>([
        p("jobId", ethereum.Value.fromI32(1)),
        p("trainer", ethereum.Value.fromAddress(TRAINER)),
        p("dueAt", ethereum.Value.fromI32(1700000000)),
        p("collateral", ethereum.Value.fromUnsignedBigInt(E18)),
      ]),
    );
    assert.fieldEquals("Job", "1", "status", "Claimed");
    assert.fieldEquals("Job", "1", "trainer", TRAINER.toHexString());
    handleJobReclaimed(
      mock<JobReclaimed>([
        p("jobId", ethereum.Value.fromI32(1)),
        p("trainer", ethereum.Value.fromAddress(TRAINER)),
        p("slashed", ethereum.Value.fromUnsignedBigInt(E18)),
      ]),
    );
    assert.fieldEquals("Job", "1", "status", "Open");
    assert.fieldEquals("Job", "1", "trainer", "null");
    assert.fieldEquals("Job", "1", "slashed", E18.toString());
    assert.fieldEquals("Trainer", TRAINER.toHexString(), "staked", E18.toString());
  });
});

describe("payment channels", () => {
  test("ChannelOpened then VoucherRedeemed track the deposit and the redeemed total", () => {
    handleChannelOpened(
      mock<ChannelOpened>([
        p("channelId", ethereum.Value.fromFixedBytes(CHANNEL)),
        p("payer", ethereum.Value.fromAddress(PAYER)),
        p("provider", ethereum.Value.fromAddress(TRAINER)),
        p("modelId", ethereum.Value.fromI32(9)),
        p("amount", ethereum.Value.fromUnsignedBigInt(E18.times(BigInt.fromI32(5)))),
        p("sessionKey", ethereum.Value.fromAddress(PAYER)),
        p("sessionKeyExpiresAt", ethereum.Value.fromI32(1800000000)),
      ]),
    );
    handleVoucherRedeemed(
      mock<VoucherRedeemed>([
        p("channelId", ethereum.Value.fromFixedBytes(CHANNEL)),
        p("modelId", ethereum.Value.fromI32(9)),
        p("signer", ethereum.Value.fromAddress(PAYER)),
        p("cumulativeAmount", ethereum.Value.fromUnsignedBigInt(E18.times(BigInt.fromI32(2)))),
        p("amount", ethereum.Value.fromUnsignedBigInt(E18.times(BigInt.fromI32(2)))),
      ]),
    );
    assert.fieldEquals("Channel", CHANNEL.toHexString(), "deposit", "5000000000000000000");
    assert.fieldEquals("Channel", CHANNEL.toHexString(), "redeemed", "2000000000000000000");
    assert.fieldEquals("Channel", CHANNEL.toHexString(), "model", "null");
    assert.fieldEquals("ProtocolStats", "protocol", "totalVoucherRevenue", "2000000000000000000");
    assert.bigIntEquals(BigInt.fromI32(2).times(E18), BigInt.fromString("2000000000000000000"));
  });
});
