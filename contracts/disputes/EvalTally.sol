// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @title EvalTally
/// @notice The tally of an eval dispute's committee (see {IDisputeGame}), apart from the game so that both games fit
/// the contract size limit. Stateless: the DisputeGame deploys its own and passes it the revealed votes.
///
/// A vote is UNAVAILABLE (the verifier could not get what the trainer had to publish), or numeric:
/// `verdict = loss << 128 | rhoCode << 64 | termsOk` with `witness = shard loss` (losses in 1e9 fixed point;
/// `rhoCode = 1 + round((spearman + 1) * 5000)`, 0 when not measured; `termsOk` when the claim's terms are the
/// spec's). More than half the seats UNAVAILABLE decides against the trainer. Otherwise a numeric vote is
/// coherent when its losses are within the claim's tolerance of the medians, its terms flag is the majority's and,
/// when most measured it, its rank correlation is within `RHO_SPREAD` of the median. The round decides when more
/// than half the seats are coherent and at least two thirds revealed. The trainer wins when the terms hold, the
/// median loss is at most the claim plus the tolerance, and (when most measured it) the median rank correlation is
/// at least `MIN_RANK_CODE`.
contract EvalTally {
    /// @notice Lowest median rank-correlation code with which the trainer's attribution stands (Spearman 0.8).
    uint256 public constant MIN_RANK_CODE = 9_001;
    /// @notice Widest distance of a verifier's rank-correlation code from the median that is coherent (0.2).
    uint256 public constant RHO_SPREAD = 1_000;
    /// @notice The verdict of a verifier that could not get what it must check.
    bytes32 public constant UNAVAILABLE = keccak256("tributary/verdict-unavailable@1");
    uint256 private constant _BPS = 10_000;

    /// @dev The numeric votes, unpacked.
    struct Numbers {
        bool[] numeric;
        bool[] termsOk;
        uint256[] loss;
        uint256[] shard;
        uint256[] rho;
        uint256 count;
        uint256 terms;
        uint256 measured;
    }

    /// @notice Judges one round. `shown[i]`: seat i revealed `verdicts[i]`, `witnesses[i]`.
    /// @return trainerWins The claim stands (meaningful only when `decided`).
    /// @return decided The round decides (else the committee is redrawn).
    /// @return coherent The seats paid on a decision (all false when not decided).
    function tally(
        bool[] memory shown,
        bytes32[] memory verdicts,
        bytes32[] memory witnesses,
        uint64 claimedLoss,
        uint16 toleranceBps
    ) external pure returns (bool trainerWins, bool decided, bool[] memory coherent) {
        uint256 n = shown.length;
        coherent = new bool[](n);
        (Numbers memory t, uint256 revealed, uint256 unavailable) = _unpack(shown, verdicts, witnesses);
        uint256 coherentCount = unavailable;
        if (unavailable * 2 > n) {
            _markUnavailable(shown, verdicts, coherent);
        } else {
            (trainerWins, coherentCount) = _judge(t, coherent, claimedLoss, toleranceBps);
        }
        decided = coherentCount * 2 > n && revealed * 3 >= n * 2;
        if (!decided) coherent = new bool[](n);
    }

    function _unpack(bool[] memory shown, bytes32[] memory verdicts, bytes32[] memory witnesses)
        private
        pure
        returns (Numbers memory t, uint256 revealed, uint256 unavailable)
    {
        uint256 n = shown.length;
        t = Numbers({
            numeric: new bool[](n),
            termsOk: new bool[](n),
            loss: new uint256[](n),
            shard: new uint256[](n),
            rho: new uint256[](n),
            count: 0,
            terms: 0,
            measured: 0
        });
        for (uint256 i = 0; i < n; ++i) {
            if (!shown[i]) continue;
            ++revealed;
            if (verdicts[i] == UNAVAILABLE) {
                ++unavailable;
                continue;
            }
            uint256 verdict = uint256(verdicts[i]);
            t.numeric[i] = true;
            t.loss[i] = verdict >> 128;
            t.rho[i] = uint64(verdict >> 64);
            t.shard[i] = uint256(witnesses[i]);
            t.termsOk[i] = verdict & 1 == 1;
            ++t.count;
            if (t.termsOk[i]) ++t.terms;
            if (t.rho[i] != 0) ++t.measured;
        }
    }

    function _markUnavailable(bool[] memory shown, bytes32[] memory verdicts, bool[] memory coherent)
        private
        pure
    {
        for (uint256 i = 0; i < coherent.length; ++i) {
            coherent[i] = shown[i] && verdicts[i] == UNAVAILABLE;
        }
    }

    function _judge(Numbers memory t, bool[] memory coherent, uint256 claimedLoss, uint256 tol)
        private
        pure
        returns (bool trainerWins, uint256 coherentCount)
    {
        uint256 mLoss = _median(t.loss, t.numeric, t.count);
        uint256 mShard = _median(t.shard, t.numeric, t.count);
        bool rhoJudged = t.measured * 2 > t.count;
        uint256 mRho = rhoJudged ? _median(t.rho, t.numeric, t.count) : 0;
        bool termsOk = t.terms * 2 > t.count;
        for (uint256 i = 0; i < coherent.length; ++i) {
            if (!t.numeric[i] || t.termsOk[i] != termsOk) continue;
            if (!_within(t.loss[i], mLoss, tol) || !_within(t.shard[i], mShard, tol)) continue;
            if (rhoJudged && (t.rho[i] == 0 || _absDiff(t.rho[i], mRho) > RHO_SPREAD)) continue;
            coherent[i] = true;
            ++coherentCount;
        }
        trainerWins =
            termsOk && mLoss * _BPS <= claimedLoss * (_BPS + tol) && (!rhoJudged || mRho >= MIN_RANK_CODE);
    }

    /// @dev The lower median of the `count` values whose mask is set (0 for none).
    function _median(uint256[] memory values, bool[] memory mask, uint256 count) private pure returns (uint256) {
        if (count == 0) return 0;
        uint256[] memory a = new uint256[](count);
        uint256 k;
        for (uint256 i = 0; i < values.length; ++i) {
            if (!mask[i]) continue;
            uint256 x = values[i];
            uint256 j = k++;
            while (j > 0 && a[j - 1] > x) {
                a[j] = a[j - 1];
                --j;
            }
            a[j] = x;
        }
        return a[(count - 1) / 2];
    }

    /// @dev Whether `x` is within `tolBps` of `m` (relative to `m`).
    function _within(uint256 x, uint256 m, uint256 tolBps) private pure returns (bool) {
        return _absDiff(x, m) * _BPS <= m * tolBps;
    }

    function _absDiff(uint256 a, uint256 b) private pure returns (uint256) {
        return a > b ? a - b : b - a;
    }
}
