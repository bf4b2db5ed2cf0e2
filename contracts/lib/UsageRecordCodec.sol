// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title UsageRecordCodec
/// @notice Packs a usage record's numeric fields into one 256-bit word.
/// @dev Layout, most significant bits first:
///      | meterId uint32 | periodStart uint40 | periodEnd uint40 | sequence uint64 | quantity uint80 |
///      One word per record keeps calldata, event data and hashing cheap; the 32-byte `ref`
///      travels beside it. Off-chain encoders (indexer/, the reporter client) mirror this layout.
library UsageRecordCodec {
    uint256 private constant _METER_SHIFT = 224;
    uint256 private constant _START_SHIFT = 184;
    uint256 private constant _END_SHIFT = 144;
    uint256 private constant _SEQUENCE_SHIFT = 80;
    uint256 private constant _MASK_40 = (1 << 40) - 1;
    uint256 private constant _MASK_64 = (1 << 64) - 1;
    uint256 private constant _MASK_80 = (1 << 80) - 1;

    /// @dev The fields of one packed word.
    struct Fields {
        uint32 meterId;
        uint40 periodStart;
        uint40 periodEnd;
        uint64 sequence;
        uint80 quantity;
    }

    function encode(Fields memory f) internal pure returns (uint256) {
        return
            (uint256(f.meterId) << _METER_SHIFT) |
            (uint256(f.periodStart) << _START_SHIFT) |
            (uint256(f.periodEnd) << _END_SHIFT) |
            (uint256(f.sequence) << _SEQUENCE_SHIFT) |
            uint256(f.quantity);
    }

    function decode(uint256 word) internal pure returns (Fields memory f) {
        (f.meterId, f.periodStart, f.periodEnd, f.sequence, f.quantity) = unpack(word);
    }

    /// @dev Stack-only variant of {decode} for hot loops (no memory allocation per record).
    function unpack(
        uint256 word
    ) internal pure returns (uint32 meterId, uint40 periodStart, uint40 periodEnd, uint64 sequence, uint80 quantity) {
        meterId = uint32(word >> _METER_SHIFT);
        periodStart = uint40((word >> _START_SHIFT) & _MASK_40);
        periodEnd = uint40((word >> _END_SHIFT) & _MASK_40);
        sequence = uint64((word >> _SEQUENCE_SHIFT) & _MASK_64);
        quantity = uint80(word & _MASK_80);
    }
}
