// Full protocol lifecycle on Hardhat's in-process chain, deployed by the real deploy step:
// datanet -> contributions -> access -> job -> submit -> accept -> model minted -> channel revenue
// (EIP-712 voucher signed by a session key) -> contributors claim with StandardMerkleTree proofs.
// Every balance is asserted exactly.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { parseEther, type Address, type Hash } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { deployProtocol, LOCAL_PARAMS } from "../scripts/deploy.ts";

const E = (n: string | number) => parseEther(String(n));

describe("protocol lifecycle", () => {
  it("pays trainer, datanet pool, owner, trainer share, treasury and contributors exactly", async () => {
    const { viem, networkHelpers } = await network.create();
    const publicClient = await viem.getPublicClient();
    const [deployer, alice, bob, carol, builder, trainer, payer, provider] = await viem.getWalletClients();
    const mined = async (hash: Promise<Hash>) => {
      const receipt = await publicClient.waitForTransactionReceipt({ hash: await hash });
      assert.equal(receipt.status, "success");
      return receipt;
    };

    const d = await deployProtocol(deployer, publicClient);
    const c = d.contracts;
    const token = await viem.getContractAt("OpenToken", c.OpenToken.address);
    const datanets = await viem.getContractAt("DatanetRegistry", c.DatanetRegistry.address);
    const access = await viem.getContractAt("AccessRegistry", c.AccessRegistry.address);
    const trainers = await viem.getContractAt("TrainerRegistry", c.TrainerRegistry.address);
    const market = await viem.getContractAt("JobMarket", c.JobMarket.address);
    const models = await viem.getContractAt("ModelRegistry", c.ModelRegistry.address);
    const rewards = await viem.getContractAt("RewardDistributor", c.RewardDistributor.address);
    const channels = await viem.getContractAt("PaymentChannels", c.PaymentChannels.address);
    const balance = (a: Address) => token.read.balanceOf([a]);
    const as = <T extends { account: { address: Address } }>(w: T) => ({ account: w.account });

    for (const [w, amount] of [[builder, E(10_000)], [trainer, E(1_100)], [payer, E(1_000)]] as const) {
      await mined(token.write.mint([w.account.address, amount]));
    }

    // A Paid datanet (5 OPEN per use) with three approved contributions: bob 2, carol 1.
    await mined(datanets.write.createDatanet(["bafymeta", 2, E(5), []], as(alice)));
    const datanetId = 1n;
    for (const w of [bob, bob, carol]) {
      await mined(
        datanets.write.submitContribution([datanetId, "bafycontrib", `0x${"11".repeat(32)}`, 100, 4096n, true], as(w)),
      );
    }
    await mined(datanets.write.approveContributions([datanetId, [1n, 2n, 3n]], as(alice)));
    assert.equal(await datanets.read.versionOf([datanetId]), 3);

    // The builder buys one use; the fee lands in the datanet's pool.
    await mined(token.write.approve([access.address, E(5)], as(builder)));
    await mined(access.write.buyAccess([datanetId, 1, E(5)], as(builder)));
    assert.equal(await rewards.read.poolBalance([datanetId]), E(5));

    // The trainer stakes the minimum plus one job's collateral (by default the whole budget); the builder
    // posts a 1,000 OPEN job (10% data fee) on version 3.
    await mined(token.write.approve([trainers.address, E(1_100)], as(trainer)));
    await mined(trainers.write.stake([E(1_100)], as(trainer)));
    await mined(token.write.approve([market.address, E(1_000)], as(builder)));
    await mined(
      market.write.postJob(
        [{ specCID: "bafyspec", baseModelId: 1, parentModelId: 0n, datanetIds: [datanetId], versions: [3], budget: E(1_000), duration: 3600 }],
        as(builder),
      ),
    );
    assert.equal(await balance(market.address), E(1_000));
    const grant = (await access.read.getGrant([datanetId, builder.account.address])) as { usesLeft: number };
    assert.equal(grant.usesLeft, 0);

    // Claim, submit a result with an attribution tree built by @openzeppelin/merkle-tree, accept early: one
    // leaf per contribution (datanetId, contributionId, weight), never a payee address (review finding 2).
    const attribution = StandardMerkleTree.of(
      [
        [datanetId, 1n, 1n],
        [datanetId, 2n, 1n],
        [datanetId, 3n, 1n],
      ],
      ["uint256", "uint256", "uint256"],
    );
    // The pool distribution's tree: (account, weight), bob 2 and carol 1.
    const tree = StandardMerkleTree.of(
      [
        [bob.account.address, 2n],
        [carol.account.address, 1n],
      ],
      ["address", "uint256"],
    );
    await mined(market.write.claimJob([1n], as(trainer)));
    assert.equal(((await trainers.read.getTrainer([trainer.account.address])) as { locked: bigint }).locked, E(1_000));
    await mined(
      market.write.submitResult(
        [
          1n,
          {
            adapterCID: "bafyadapter",
            adapterHash: `0x${"22".repeat(32)}`,
            metricsCID: "bafymetrics",
            attributionRoot: attribution.root as Hash,
            attributionTotalWeight: 3n,
            reportCID: "bafyreport",
          },
        ],
        as(trainer),
      ),
    );
    await mined(market.write.acceptResult([1n], as(builder)));
    const modelId = 1n;
    const owner = (await models.read.ownerOf([modelId])) as Address;
    assert.equal(owner.toLowerCase(), builder.account.address.toLowerCase());
    assert.equal(await models.read.tokenURI([modelId]), "ipfs://bafyadapter");
    assert.equal(await market.read.withdrawable([trainer.account.address]), E(900));
    assert.equal(await rewards.read.poolBalance([datanetId]), E(105));

    // A payment channel whose vouchers a session key signs (no wallet prompt per message).
    const session = privateKeyToAccount(generatePrivateKey());
    const now = BigInt((await publicClient.getBlock()).timestamp);
    await mined(token.write.approve([channels.address, E(50)], as(payer)));
    await mined(
      channels.write.openChannel([provider.account.address, modelId, E(50), session.address, Number(now + 86_400n)], as(payer)),
    );
    const channelId = (await channels.read.channelIdOf([payer.account.address, provider.account.address, modelId])) as Hash;
    const signature = await session.signTypedData({
      domain: { name: "Tributary PaymentChannels", version: "1", chainId: d.chainId, verifyingContract: channels.address },
      types: { Voucher: [{ name: "channelId", type: "bytes32" }, { name: "cumulativeAmount", type: "uint256" }, { name: "epoch", type: "uint32" }] },
      primaryType: "Voucher",
      message: { channelId, cumulativeAmount: E(20), epoch: 0 },
    });
    await mined(channels.write.redeemVoucher([channelId, E(20), signature], as(provider)));
    const modelRewards = (await rewards.read.getModelRewards([modelId])) as { revenue: bigint };
    assert.equal(modelRewards.revenue, E(20));

    // Contributors claim 65% of 20 OPEN by weight 2:1 with proofs; owner 20%, trainer 10%, treasury 5%.
    const contributors = (E(20) * 6_500n) / 10_000n;
    const bobShare = 2n * (contributors / 3n);
    const carolShare = contributors / 3n;
    for (const [i, v] of attribution.entries()) {
      await mined(rewards.write.claimReward([modelId, v[0] as bigint, v[1] as bigint, v[2] as bigint, attribution.getProof(i) as Hash[]]));
    }
    await mined(rewards.write.payShares([modelId]));

    // The datanet pool (5 access + 100 data fee) goes to the same contributors 2:1.
    await mined(rewards.write.createPoolDistribution([datanetId, tree.root as Hash, 3n, "bafydist"], as(alice)));
    for (const [i, v] of tree.entries()) {
      await mined(rewards.write.claimPoolReward([1n, v[0] as Address, v[1] as bigint, tree.getProof(i) as Hash[]]));
    }

    // The trainer withdraws its pay; the payer takes back the unspent deposit after the timeout.
    await mined(market.write.withdraw([], as(trainer)));
    await mined(channels.write.requestWithdrawal([channelId], as(payer)));
    await networkHelpers.time.increase(LOCAL_PARAMS.closeTimeout);
    await mined(channels.write.withdraw([channelId], as(payer)));

    assert.equal(await balance(bob.account.address), bobShare + E(70));
    assert.equal(await balance(carol.account.address), carolShare + E(35));
    assert.equal(await balance(builder.account.address), E(10_000) - E(5) - E(1_000) + E(4));
    assert.equal(await balance(trainer.account.address), E(1_100) - E(1_100) + E(900) + E(2));
    assert.equal(await balance(deployer.account.address), E(1));
    assert.equal(await balance(payer.account.address), E(1_000) - E(20));
    assert.equal(await balance(market.address), 0n);
    assert.equal(await balance(channels.address), 0n);
    assert.equal(await balance(access.address), 0n);
    assert.equal(await balance(trainers.address), E(1_100));
    assert.equal(((await trainers.read.getTrainer([trainer.account.address])) as { locked: bigint }).locked, 0n);
    // Only the rounding dust of the 2:1 split (1 wei) stays in the distributor.
    assert.equal(await balance(rewards.address), contributors - bobShare - carolShare);
    assert.equal(contributors - bobShare - carolShare, 1n);
  });
});
