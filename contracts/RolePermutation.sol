// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title RolePermutation
/// @notice Roles in O(1) gas per round, drawn without replacement over an *epoch*. With n participants and
/// P proposers per round, an epoch is E = ceil(n / P) consecutive rounds (rounds kE .. kE + E - 1) sharing
/// one seed. Participant `i` holds position `permute(seed, i, n)` in a keyed pseudo-random permutation of
/// [0, n); in round r its *slot* is that position rotated by (r mod E) * P: slots below P are the round's
/// proposers, slot 0 its pioneer. The proposer windows of an epoch's rounds tile the positions, so every
/// participant proposes at least once per epoch (the last window wraps when P does not divide n, and a few
/// participants propose twice).
/// @dev A 4-round balanced Feistel network over 2h bits (the smallest even bit width with 4^h >= n, h >= 1)
/// whose round function is keccak256(seed, round << 128 | half), made a permutation of [0, n) by cycle
/// walking (expected fewer than 4 passes since 4^h < 4n). Mirrored bit for bit in
/// flalliance.protocol.roles; change both or neither.
library RolePermutation {
    uint256 internal constant FEISTEL_ROUNDS = 4;

    function _halfBits(uint256 n) private pure returns (uint256 h) {
        h = 1;
        while ((uint256(1) << (2 * h)) < n) ++h;
    }

    function _f(uint256 seed, uint256 k, uint256 x, uint256 mask) private pure returns (uint256 out) {
        assembly ("memory-safe") {
            mstore(0x00, seed)
            mstore(0x20, or(shl(128, k), x))
            out := and(keccak256(0x00, 0x40), mask)
        }
    }

    function _encrypt(uint256 seed, uint256 x, uint256 h, uint256 mask) private pure returns (uint256) {
        uint256 l = x >> h;
        uint256 r = x & mask;
        for (uint256 k; k < FEISTEL_ROUNDS; ++k) {
            (l, r) = (r, l ^ _f(seed, k, r, mask));
        }
        return (l << h) | r;
    }

    function _decrypt(uint256 seed, uint256 x, uint256 h, uint256 mask) private pure returns (uint256) {
        uint256 l = x >> h;
        uint256 r = x & mask;
        for (uint256 k = FEISTEL_ROUNDS; k > 0; --k) {
            (l, r) = (r ^ _f(seed, k - 1, l, mask), l);
        }
        return (l << h) | r;
    }

    /// @notice Position of element `i` (< n) under the permutation keyed by `seed`.
    function permute(uint256 seed, uint256 i, uint256 n) internal pure returns (uint256 x) {
        uint256 h = _halfBits(n);
        uint256 mask = (uint256(1) << h) - 1;
        x = _encrypt(seed, i, h, mask);
        while (x >= n) x = _encrypt(seed, x, h, mask);
    }

    /// @notice The element that lands on position `p` (< n): the inverse of `permute`.
    function unpermute(uint256 seed, uint256 p, uint256 n) internal pure returns (uint256 x) {
        uint256 h = _halfBits(n);
        uint256 mask = (uint256(1) << h) - 1;
        x = _decrypt(seed, p, h, mask);
        while (x >= n) x = _decrypt(seed, x, h, mask);
    }

    /// @notice Rounds per epoch with `n` participants and `proposers` (>= 1) proposers a round: ceil(n / P).
    function epochLength(uint256 n, uint256 proposers) internal pure returns (uint256) {
        unchecked {
            return (n + proposers - 1) / proposers; // n, proposers < 2^16
        }
    }

    /// @notice The first position of round `round`'s proposer window: (round mod E) * P, always < n.
    function windowStart(uint256 n, uint256 proposers, uint256 round) internal pure returns (uint256) {
        unchecked {
            return (round % epochLength(n, proposers)) * proposers; // < n
        }
    }

    /// @notice Slot of element `i` in round `round` (seed = the epoch's seed): slots < `proposers` propose,
    /// slot 0 is the pioneer.
    function slot(uint256 seed, uint256 i, uint256 n, uint256 proposers, uint256 round)
        internal
        pure
        returns (uint256)
    {
        uint256 start = windowStart(n, proposers, round);
        uint256 p = permute(seed, i, n);
        unchecked {
            return p >= start ? p - start : p + n - start; // p, start < n
        }
    }

    /// @notice The element holding slot `s` (< n) in round `round`: the inverse of `slot`.
    function holder(uint256 seed, uint256 s, uint256 n, uint256 proposers, uint256 round)
        internal
        pure
        returns (uint256)
    {
        uint256 p;
        unchecked {
            p = s + windowStart(n, proposers, round); // s, start < n
        }
        return unpermute(seed, p < n ? p : p - n, n);
    }
}
