// Matchstick tests of the DatanetRegistry mappings. They use only matchstick-as's API, so they run under
// `graph test` (matchstick) as well as under the local runner (test/matchstick.test.ts runs them here).
import { Address, BigInt, Bytes, ethereum } from "@graphprotocol/graph-ts";
import { afterEach, assert, clearStore, describe, newMockEvent, test } from "matchstick-as/assembly/index";
import {
  ContributionApproved,
  ContributionSubmitted,
  ContributionWithdrawn,
  DatanetCreated,
} from "../generated/DatanetRegistry/DatanetRegistry";
import {
  handleContributionApproved,
  handleContributionSubmitted,
  handleContributionWithdrawn,
  handleDatanetCreated,
} from "../src/datanets";

const OWNER = Address.fromString("0x00000000000000000000000000000000000000a1");
const CURATOR = Address.fromString("0x00000000000000000000000000000000000000c1");
const ALICE = Address.fromString("0x0000000000000000000000000000000000000011");

function param(name: string, value: ethereum.Value): ethereum.EventParam {
  return new ethereum.EventParam(name, value);
}

function datanetCreated(id: i32, policy: i32): DatanetCreated {
  const e = changetype<DatanetCreated>(newMockEvent());
  e.parameters = [
    param("datanetId", ethereum.Value.fromI32(id)),
    param("owner", ethereum.Value.fromAddress(OWNER)),
    param("metadataCID", ethereum.Value.fromString("bafy-meta")),
    param("policy", ethereum.Value.fromI32(policy)),
    param("price", ethereum.Value.fromUnsignedBigInt(BigInt.fromString("5000000000000000000"))),
    param("curators", ethereum.Value.fromAddressArray([CURATOR])),
  ];
  return e;
}

function submitted(datanet: i32, id: i32, records: i32, bytes: i32): ContributionSubmitted {
  const e = changetype<ContributionSubmitted>(newMockEvent());
  e.logIndex = BigInt.fromI32(id);
  e.parameters = [
    param("datanetId", ethereum.Value.fromI32(datanet)),
    param("contributionId", ethereum.Value.fromI32(id)),
    param("contributor", ethereum.Value.fromAddress(ALICE)),
    param("cid", ethereum.Value.fromString("bafy-c")),
    param("contentHash", ethereum.Value.fromFixedBytes(Bytes.fromHexString("0x" + "ab".repeat(32)))),
    param("records", ethereum.Value.fromI32(records)),
    param("byteSize", ethereum.Value.fromI32(bytes)),
    param("encrypted", ethereum.Value.fromBoolean(true)),
  ];
  return e;
}

function approved(datanet: i32, id: i32, version: i32): ContributionApproved {
  const e = changetype<ContributionApproved>(newMockEvent());
  e.logIndex = BigInt.fromI32(100 + id);
  e.parameters = [
    param("datanetId", ethereum.Value.fromI32(datanet)),
    param("contributionId", ethereum.Value.fromI32(id)),
    param("curator", ethereum.Value.fromAddress(CURATOR)),
    param("version", ethereum.Value.fromI32(version)),
  ];
  return e;
}

function withdrawn(datanet: i32, id: i32): ContributionWithdrawn {
  const e = changetype<ContributionWithdrawn>(newMockEvent());
  e.logIndex = BigInt.fromI32(200 + id);
  e.parameters = [
    param("datanetId", ethereum.Value.fromI32(datanet)),
    param("contributionId", ethereum.Value.fromI32(id)),
    param("contributor", ethereum.Value.fromAddress(ALICE)),
  ];
  return e;
}

describe("DatanetCreated", () => {
  afterEach(() => {
    clearStore();
  });

  test("creates the Datanet, its owner and curator accounts, and the event entity", () => {
    handleDatanetCreated(datanetCreated(7, 2));
    assert.fieldEquals("Datanet", "7", "owner", OWNER.toHexString());
    assert.fieldEquals("Datanet", "7", "policy", "Paid");
    assert.fieldEquals("Datanet", "7", "price", "5000000000000000000");
    assert.fieldEquals("Datanet", "7", "curators", "[" + CURATOR.toHexString() + "]");
    assert.fieldEquals("Datanet", "7", "version", "0");
    assert.fieldEquals("ProtocolStats", "protocol", "datanetCount", "1");
    assert.fieldEquals("ProtocolStats", "protocol", "accountCount", "2");
    assert.entityCount("Account", 2);
    assert.entityCount("DatanetCreated", 1);
  });

  test("starts from an empty store after clearStore", () => {
    assert.notInStore("Datanet", "7");
    assert.entityCount("Account", 0);
  });
});

describe("contributions", () => {
  test("counts approved records and bytes, and drops them again on withdrawal", () => {
    handleDatanetCreated(datanetCreated(1, 1));
    handleContributionSubmitted(submitted(1, 1, 10, 1000));
    handleContributionSubmitted(submitted(1, 2, 5, 500));
    assert.fieldEquals("Contribution", "1-1", "status", "Pending");
    handleContributionApproved(approved(1, 1, 1));
    handleContributionApproved(approved(1, 2, 2));
    assert.fieldEquals("Datanet", "1", "version", "2");
    assert.fieldEquals("Datanet", "1", "totalRecords", "15");
    assert.fieldEquals("Datanet", "1", "totalBytes", "1500");
    assert.fieldEquals("Account", ALICE.toHexString(), "approvedContributionCount", "2");
    handleContributionWithdrawn(withdrawn(1, 2));
    assert.fieldEquals("Contribution", "1-2", "status", "Withdrawn");
    assert.fieldEquals("Datanet", "1", "totalRecords", "10");
    assert.fieldEquals("Datanet", "1", "totalBytes", "1000");
    assert.fieldEquals("Datanet", "1", "withdrawnCount", "1");
    assert.fieldEquals("ProtocolStats", "protocol", "contributionCount", "2");
  });

  test(
    "a wrong expectation fails the test",
    () => {
      handleDatanetCreated(datanetCreated(3, 0));
      assert.fieldEquals("Datanet", "3", "policy", "Paid");
    },
    true,
  );
});
