using CocoLaunch.Abi;

namespace CocoLaunch.Formats.Igvm;

/// <summary>IGVM_VHS_PARAMETER_AREA: declares a parameter area by index, its size and initial contents (0: zeros).</summary>
public sealed record IgvmParameterArea(int Index, long Offset, uint RawType, ulong Bytes, uint AreaIndex, uint FileOffset) : IgvmHeader(Index, Offset, RawType)
{
    public override IEnumerable<IgvmField> Fields() => [F("bytes", Bytes), F("parameterAreaIndex", AreaIndex), F("fileOffset", FileOffset)];
}

/// <summary>IGVM_VHS_PAGE_DATA: one page to import, from the file data or zeros (file offset 0).</summary>
public sealed record IgvmPageData(
    int Index,
    long Offset,
    uint RawType,
    Gpa Gpa,
    uint Mask,
    uint FileOffset,
    IgvmPageDataFlags Flags,
    IgvmPageDataType DataType) : IgvmHeader(Index, Offset, RawType)
{
    public override uint? CompatibilityMask => Mask;

    public bool IsZeroPage => FileOffset == 0;

    public ulong Size => Flags.HasFlag(IgvmPageDataFlags.Is2MbPage) ? PageSize.Size2M : PageSize.Size4K;

    public override IEnumerable<IgvmField> Fields() =>
        [F("gpa", Gpa.ToString()), F("fileOffset", FileOffset), F("flags", IgvmNames.Of(Flags)), F("dataType", IgvmNames.Of(DataType))];
}

/// <summary>IGVM_VHS_PARAMETER_INSERT: imports a declared parameter area at a GPA, as unmeasured pages; the index is then spent.</summary>
public sealed record IgvmParameterInsert(int Index, long Offset, uint RawType, Gpa Gpa, uint Mask, uint AreaIndex) : IgvmHeader(Index, Offset, RawType)
{
    public override uint? CompatibilityMask => Mask;

    public override IEnumerable<IgvmField> Fields() => [F("gpa", Gpa.ToString()), F("parameterAreaIndex", AreaIndex)];
}

/// <summary>
/// IGVM_VHS_PARAMETER: where the loader deposits one host value (VP count, SRAT, MADT, MMIO ranges, memory map, command
/// line, SLIT, PPTT, device tree, environment info), by parameter area index and byte offset. No compatibility mask.
/// </summary>
public sealed record IgvmParameterUsage(int Index, long Offset, uint RawType, uint AreaIndex, uint ByteOffset) : IgvmHeader(Index, Offset, RawType)
{
    public override IEnumerable<IgvmField> Fields() => [F("parameterAreaIndex", AreaIndex), F("byteOffset", ByteOffset)];
}

/// <summary>
/// IGVM_VHS_VP_CONTEXT: a VP's initial state in the file data, whose form depends on the platform (an SNP VMSA page,
/// a VBS register list, a native or CCA context). Invalid for TDX, whose reset state is architectural.
/// </summary>
public sealed record IgvmVpContext(int Index, long Offset, uint RawType, Gpa Gpa, uint Mask, uint FileOffset, ushort VpIndex) : IgvmHeader(Index, Offset, RawType)
{
    public override uint? CompatibilityMask => Mask;

    public override IEnumerable<IgvmField> Fields() => [F("gpa", Gpa.ToString()), F("fileOffset", FileOffset), F("vpIndex", VpIndex)];
}

/// <summary>IGVM_VHS_REQUIRED_MEMORY: memory the guest needs present, uninitialized (flag bit 0: VTL2 protectable).</summary>
public sealed record IgvmRequiredMemory(int Index, long Offset, uint RawType, Gpa Gpa, uint Mask, uint Bytes, uint Flags) : IgvmHeader(Index, Offset, RawType)
{
    public const uint Vtl2Protectable = 1;

    public override uint? CompatibilityMask => Mask;

    public override IEnumerable<IgvmField> Fields() => [F("gpa", Gpa.ToString()), F("bytes", Bytes), F("flags", (Flags & Vtl2Protectable) != 0 ? "vtl2-protectable" : "-")];
}

/// <summary>IGVM_VHS_ERROR_RANGE: guest memory shared with the host for error reports.</summary>
public sealed record IgvmErrorRange(int Index, long Offset, uint RawType, Gpa Gpa, uint Mask, uint Bytes) : IgvmHeader(Index, Offset, RawType)
{
    public override uint? CompatibilityMask => Mask;

    public override IEnumerable<IgvmField> Fields() => [F("gpa", Gpa.ToString()), F("bytes", Bytes)];
}

/// <summary>An ECDSA P-384 signature as the SNP ID block stores it: R and S, little-endian, 72 bytes each.</summary>
public sealed record IgvmSnpSignature(ReadOnlyMemory<byte> R, ReadOnlyMemory<byte> S);

/// <summary>An SNP ID block public key: the curve, then Qx and Qy, 72 bytes each.</summary>
public sealed record IgvmSnpPublicKey(uint Curve, ReadOnlyMemory<byte> Qx, ReadOnlyMemory<byte> Qy);

/// <summary>IGVM_VHS_SNP_ID_BLOCK: the signed expected launch digest and identity an SNP loader passes at LAUNCH_FINISH.</summary>
public sealed record IgvmSnpIdBlock(int Index, long Offset, uint RawType, uint Mask, IgvmSnpIdentity Identity) : IgvmHeader(Index, Offset, RawType)
{
    public override uint? CompatibilityMask => Mask;

    public override IEnumerable<IgvmField> Fields()
    {
        var i = Identity;
        return
        [
            F("authorKeyEnabled", i.AuthorKeyEnabled), F("ld", i.Ld), F("familyId", i.FamilyId), F("imageId", i.ImageId), F("version", i.Version),
            F("guestSvn", i.GuestSvn), F("idKeyAlgorithm", i.IdKeyAlgorithm), F("authorKeyAlgorithm", i.AuthorKeyAlgorithm),
            F("idKeySignatureR", i.IdKeySignature.R), F("idKeySignatureS", i.IdKeySignature.S),
            F("idPublicKeyCurve", i.IdPublicKey.Curve), F("idPublicKeyQx", i.IdPublicKey.Qx), F("idPublicKeyQy", i.IdPublicKey.Qy),
            F("authorKeySignatureR", i.AuthorKeySignature.R), F("authorKeySignatureS", i.AuthorKeySignature.S),
            F("authorPublicKeyCurve", i.AuthorPublicKey.Curve), F("authorPublicKeyQx", i.AuthorPublicKey.Qx), F("authorPublicKeyQy", i.AuthorPublicKey.Qy),
        ];
    }
}

/// <summary>What an IGVM_VHS_SNP_ID_BLOCK carries besides its mask: the ID block's fields and the ID auth's keys and signatures.</summary>
public sealed record IgvmSnpIdentity(
    byte AuthorKeyEnabled,
    ReadOnlyMemory<byte> Ld,
    ReadOnlyMemory<byte> FamilyId,
    ReadOnlyMemory<byte> ImageId,
    uint Version,
    uint GuestSvn,
    uint IdKeyAlgorithm,
    uint AuthorKeyAlgorithm,
    IgvmSnpSignature IdKeySignature,
    IgvmSnpPublicKey IdPublicKey,
    IgvmSnpSignature AuthorKeySignature,
    IgvmSnpPublicKey AuthorPublicKey);

/// <summary>IGVM_VHS_VBS_MEASUREMENT: a VBS boot measurement digest with its signature and key.</summary>
public sealed record IgvmVbsMeasurement(
    int Index,
    long Offset,
    uint RawType,
    uint Mask,
    uint Version,
    uint ProductId,
    uint ModuleId,
    uint SecurityVersion,
    uint PolicyFlags,
    uint BootDigestAlgorithm,
    uint SigningAlgorithm,
    ReadOnlyMemory<byte> BootMeasurementDigest,
    ReadOnlyMemory<byte> Signature,
    ReadOnlyMemory<byte> PublicKey) : IgvmHeader(Index, Offset, RawType)
{
    public override uint? CompatibilityMask => Mask;

    public override IEnumerable<IgvmField> Fields() =>
    [
        F("version", Version), F("productId", ProductId), F("moduleId", ModuleId), F("securityVersion", SecurityVersion), F("policyFlags", PolicyFlags),
        F("bootDigestAlgorithm", BootDigestAlgorithm switch { 1 => "sha256", _ => Hex.Of((ulong)BootDigestAlgorithm) }),
        F("signingAlgorithm", SigningAlgorithm switch { 1 => "ecdsa-p384", _ => Hex.Of((ulong)SigningAlgorithm) }),
        F("bootMeasurementDigest", BootMeasurementDigest), F("signature", Signature), F("publicKey", PublicKey),
    ];
}
