namespace CocoLaunch.Firmware.Tdx;

/// <summary>
/// SEAMCALL completion statuses (bits 63:32 of RAX; bits 31:0 carry an operand id, left 0 here). Only the ones
/// the TD build can return are modelled; values are the TDX module ABI's.
/// </summary>
public enum TdxStatus : ulong
{
    Success = 0,

    /// <summary>TDX_OPERAND_BUSY: another SEAMCALL holds a lock the leaf needs (the TD's Secure-EPT tree); the caller may retry.</summary>
    OperandBusy = 0x8000_0200_0000_0000,

    /// <summary>TDX_OPERAND_INVALID: a GPA that is misaligned or has the shared bit, bad TD_PARAMS.</summary>
    OperandInvalid = 0xC000_0100_0000_0000,

    /// <summary>TDX_OP_STATE_INCORRECT: the TD's build state forbids the leaf (not initialised, initialised twice, finalized).</summary>
    OpStateIncorrect = 0xC000_0608_0000_0000,

    /// <summary>TDX_EPT_WALK_FAILED: the Secure-EPT has no page there (MR.EXTEND of a page never added).</summary>
    EptWalkFailed = 0xC000_0B00_0000_0000,

    /// <summary>TDX_EPT_ENTRY_NOT_FREE: the Secure-EPT entry is already mapped (PAGE.ADD of a GPA twice).</summary>
    EptEntryNotFree = 0xC000_0B02_0000_0000,
}

/// <summary>A SEAMCALL that failed: the status plus which leaf and operand.</summary>
public sealed class TdxException(TdxStatus status, string leaf, string detail) : Exception($"{leaf}: {status} ({detail})")
{
    public TdxStatus Status { get; } = status;

    public string Leaf { get; } = leaf;
}
