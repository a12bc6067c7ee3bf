// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Test fixture for the Python chain layer (client, revert decoding, event reader). Not deployed
/// anywhere real: it exercises a custom error with named arguments, Error(string), Panic(uint256), an
/// inherited OpenZeppelin error and an event emitted several times per transaction.
contract Counter is Ownable {
    error TooLarge(uint256 value, uint256 limit, address caller);

    event Incremented(address indexed by, uint256 amount, uint256 newValue);

    uint256 public value;
    uint256 public immutable limit;

    constructor(uint256 limit_) Ownable(msg.sender) {
        limit = limit_;
    }

    function increment(uint256 amount) external {
        uint256 next = value + amount;
        if (next > limit) revert TooLarge(next, limit, msg.sender);
        value = next;
        emit Incremented(msg.sender, amount, next);
    }

    /// Emits `times` events of amount 1 in one transaction (for log-index checkpoints).
    function incrementMany(uint256 times) external {
        for (uint256 i = 0; i < times; ++i) {
            value += 1;
            emit Incremented(msg.sender, 1, value);
        }
        if (value > limit) revert TooLarge(value, limit, msg.sender);
    }

    function reset() external onlyOwner {
        value = 0;
    }

    function failWithReason() external pure {
        revert("counter: plain reason");
    }

    function failWithPanic(uint256 divisor) external pure returns (uint256) {
        return 1 / divisor;
    }

    function failBare() external pure {
        revert();
    }
}
