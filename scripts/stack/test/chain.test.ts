import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deploymentAddresses } from "../chain.ts";

const a = (n: number) => `0x${n.toString(16).padStart(40, "0")}`;

describe("deploymentAddresses", () => {
  it("takes the contract addresses of a deployments file, not the deployer's", () => {
    const file = {
      chainId: 31337,
      deployer: a(9),
      deployBlock: 1,
      contracts: {
        OpenToken: { address: a(1), deployBlock: 1 },
        DatanetRegistry: { address: a(2), deployBlock: 2 },
      },
    };
    assert.deepEqual(deploymentAddresses(file), [a(1), a(2)]);
  });

  it("falls back to every address in a flat name -> address file", () => {
    assert.deepEqual(deploymentAddresses({ OpenToken: a(1), JobMarket: a(3), note: "x" }), [a(1), a(3)]);
  });
});
