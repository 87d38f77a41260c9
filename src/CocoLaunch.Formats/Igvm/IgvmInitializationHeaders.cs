using CocoLaunch.Abi;

namespace CocoLaunch.Formats.Igvm;

/// <summary>IGVM_VHS_GUEST_POLICY: the SNP guest policy, or the TDX one (bit 0 debug, 1 sept_ve_disable, 2 migratable).</summary>
public sealed record IgvmGuestPolicy(int Index, long Offset, uint RawType, ulong Policy, uint Mask) : IgvmHeader(Index, Offset, RawType)
{
    public override uint? CompatibilityMask => Mask;

    public override IEnumerable<IgvmField> Fields() => [F("policy", Policy)];
}

/// <summary>IGVM_VHS_RELOCATABLE_REGION: a region the loader may move, within bounds, at the alignment given.</summary>
public sealed record IgvmRelocatableRegion(
    int Index,
    long Offset,
    uint RawType,
    uint Mask,
    ushort VpIndex,
    byte Vtl,
    byte Flags,
    ulong RelocationAlignment,
    Gpa RegionGpa,
    ulong RegionSize,
    Gpa MinimumGpa,
    Gpa MaximumGpa) : IgvmHeader(Index, Offset, RawType)
{
    /// <summary>IGVM_VHF_RELOCATABLE_REGION_IS_VTL2, _APPLY_RIP (PC), _APPLY_GDTR.</summary>
    public const byte IsVtl2 = 0x1, ApplyRip = 0x2, ApplyGdtr = 0x4;

    public override uint? CompatibilityMask => Mask;

    public override IEnumerable<IgvmField> Fields() =>
    [
        F("vpIndex", VpIndex), F("vtl", Vtl), F("flags", Flags), F("relocationAlignment", RelocationAlignment),
        F("regionGpa", RegionGpa.ToString()), F("regionSize", RegionSize), F("minimumGpa", MinimumGpa.ToString()), F("maximumGpa", MaximumGpa.ToString()),
    ];
}

/// <summary>IGVM_VHS_PAGE_TABLE_RELOCATION: where the page tables of a relocatable image live.</summary>
public sealed record IgvmPageTableRelocation(
    int Index,
    long Offset,
    uint RawType,
    uint Mask,
    ushort VpIndex,
    byte Vtl,
    Gpa Gpa,
    ulong Size,
    ulong UsedSize) : IgvmHeader(Index, Offset, RawType)
{
    public override uint? CompatibilityMask => Mask;

    public override IEnumerable<IgvmField> Fields() => [F("vpIndex", VpIndex), F("vtl", Vtl), F("gpa", Gpa.ToString()), F("size", Size), F("usedSize", UsedSize)];
}

/// <summary>IGVM_VHS_CORIM_DATA: a CoRIM document (CORIM_DOCUMENT) or its COSE_Sign1 (CORIM_SIGNATURE), in the file data.</summary>
public sealed record IgvmCorimData(int Index, long Offset, uint RawType, uint Mask, uint FileOffset, uint Size) : IgvmHeader(Index, Offset, RawType)
{
    public override uint? CompatibilityMask => Mask;

    public override IEnumerable<IgvmField> Fields() => [F("fileOffset", FileOffset), F("size", Size)];
}

/// <summary>IGVM_VHS_CCA_POLICY: Arm CCA realm attributes that must be clear or set, hash and LFA policy.</summary>
public sealed record IgvmCcaPolicy(
    int Index,
    long Offset,
    uint RawType,
    uint Mask,
    ulong RequiredZeroes,
    ulong RequiredOnes,
    byte HashAlgorithm,
    byte LfaPolicy) : IgvmHeader(Index, Offset, RawType)
{
    public override uint? CompatibilityMask => Mask;

    public override IEnumerable<IgvmField> Fields() =>
    [
        F("attributesRequiredZeroes", RequiredZeroes), F("attributesRequiredOnes", RequiredOnes),
        F("hashAlgorithm", HashAlgorithm switch { 0 => "sha256", 1 => "sha512", 2 => "sha384", _ => Hex.Of((ulong)HashAlgorithm) }),
        F("lfaPolicy", LfaPolicy switch { 0 => "disallow", 1 => "allow", _ => Hex.Of((ulong)LfaPolicy) }),
    ];
}
