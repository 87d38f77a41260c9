using System.Buffers.Binary;
using CocoLaunch.Formats.Igvm;
using B = CocoLaunch.Tests.Shared.IgvmFileBuilder;

namespace CocoLaunch.Formats.Tests.Igvm;

/// <summary>Each rule of the reader, broken once: the exception names the header and the offset of the field at fault.</summary>
public sealed class IgvmRuleTests
{
    private const string Fixed = "fixed header";

    private static void Rejects(byte[] file, string header, long offset, string problem)
    {
        var e = Assert.Throws<IgvmFormatException>(() => IgvmFile.Parse(file));
        Assert.Equal(header, e.Header);
        Assert.Contains(problem, e.Problem, StringComparison.Ordinal);
        Assert.Equal(offset, e.Offset);
        Assert.StartsWith($"{header} at offset 0x{offset:x}: ", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Builds <paramref name="b"/> and expects header <paramref name="index"/> refused at <paramref name="valueOffset"/> into its value.</summary>
    private static void RejectsHeader(B b, int index, string type, int valueOffset, string problem) =>
        Rejects(b.Build(), $"header #{index} ({type})", b.HeaderOffsets()[index] + 8 + valueOffset, problem);

    private static byte[] Valid() => IgvmSamples.SnpTdx().Page(0x1000, 1, IgvmSamples.Fill(4096, 1)).Build();

    private static void Put(byte[] file, int at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(at), value);

    // --- fixed header ---

    [Fact]
    public void BadMagic() => Rejects(new B().Platform(1, B.SevSnp).Build(f => f[0] = (byte)'X'), Fixed, 0, "is not \"IGVM\"");

    [Fact]
    public void BadVersion() => Rejects(new B().Platform(1, B.SevSnp).Build(f => Put(f, 4, 3)), Fixed, 4, "format version 3 is not 1 or 2");

    [Fact]
    public void Version2_BadArchitecture() => Rejects(new B { Version = 2, Architecture = 2 }.Platform(1, B.SevSnp).Build(), Fixed, 0x18, "architecture 0x2");

    [Fact]
    public void Version2_PageSizeNot4K() => Rejects(new B { Version = 2, PageSizeV2 = 0x10000 }.Platform(1, B.SevSnp).Build(), Fixed, 0x1C, "page size 0x10000");

    [Fact]
    public void TotalFileSizeIsNotTheFilesSize()
    {
        byte[] file = Valid();
        Rejects([.. file, 0], Fixed, 0x10, $"total_file_size 0x{file.Length:x} is not the file's size 0x{file.Length + 1:x}");
    }

    [Fact]
    public void VariableHeaderOffsetInsideTheFixedHeader() => Rejects(IgvmSamples.SnpTdx().Build(f => Put(f, 8, 16)), Fixed, 8, "variable_header_offset 0x10");

    [Fact]
    public void VariableHeaderOffsetUnaligned() => Rejects(Tampered(f => Put(f, 8, 28)), Fixed, 8, "not 8-byte aligned");

    [Fact]
    public void VariableHeadersPastTheEnd() => Rejects(Tampered(f => Put(f, 12, 0x1000)), Fixed, 0xC, "run past the file's end");

    /// <summary>A change to the fixed header's layout fields, checked before the checksum (which could not be computed).</summary>
    private static byte[] Tampered(Action<byte[]> tamper)
    {
        byte[] file = IgvmSamples.SnpTdx().Build();
        tamper(file);
        return file;
    }

    [Fact]
    public void ChecksumMismatch()
    {
        byte[] file = Valid();
        file[0x14] ^= 1;
        Rejects(file, Fixed, 0x14, "is not the CRC-32 of the fixed and variable headers");
    }

    /// <summary>The checksum covers the variable headers too, not only the fixed header.</summary>
    [Fact]
    public void ChecksumCoversTheVariableHeaders()
    {
        byte[] file = Valid();
        file[24 + 8 + 6] ^= 1; // the first platform's version
        Rejects(file, Fixed, 0x14, "checksum");
    }

    // --- type-length-value ---

    [Fact]
    public void LengthIsNotTheStructureSize() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(B.PageData, new byte[32], length: 32), 2, "IGVM_VHT_PAGE_DATA", -4, "length 0x20 is not the structure's size (0x18)");

    [Fact]
    public void LengthRunsPastTheVariableHeaders()
    {
        var b = IgvmSamples.SnpTdx().Page(0x1000, 1);
        Rejects(b.Build(f => Put(f, (int)b.HeaderOffsets()[2] + 4, 0x1000)), "header #2 (IGVM_VHT_PAGE_DATA)", b.HeaderOffsets()[2] + 4, "runs past the end of the variable headers");
    }

    [Fact]
    public void TypeAndLengthCutByTheSectionEnd()
    {
        var b = IgvmSamples.SnpTdx();
        byte[] file = b.Build();
        // Grow the section by 8 bytes taken from nothing: the file gets 8 more bytes, the last TLV head is 4 bytes short.
        byte[] longer = new byte[file.Length + 8];
        file.CopyTo(longer, 0);
        Put(longer, 12, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(12)) + 4);
        Put(longer, 16, (uint)longer.Length);
        B.SetChecksum(longer);
        Rejects(longer, "header #2", file.Length, "its type and length (8 bytes) run past the end of the variable headers");
    }

    [Fact]
    public void NonZeroPadding()
    {
        var b = IgvmSamples.SnpTdx().Vp(IgvmSamples.VmsaGpa, 1, new byte[4096]);
        long vp = b.HeaderOffsets()[2];
        Rejects(b.Build(f => f[vp + 8 + 21] = 1), "header #2 (IGVM_VHT_VP_CONTEXT)", vp + 8 + 21, "padding");
    }

    [Fact]
    public void UnknownTypeWithoutMayIgnore() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(0x390, new byte[8]), 2, "type 0x390", -8, "unknown type 0x390 without the may-ignore bit");

    [Fact]
    public void UnknownTypeWithMayIgnore_IsKeptAsIgnored()
    {
        var file = IgvmFile.Parse(IgvmSamples.SnpTdx().Header(0x8000_0250, new byte[40]).Page(0x1000, 1).Build());
        Assert.Equal(4, file.Headers.Count);
        var ignored = Assert.IsType<IgvmIgnoredHeader>(file.Headers[2]);
        Assert.Equal((0x8000_0250u, 40u), (ignored.RawType, ignored.Length));
    }

    [Fact]
    public void RetiredType0x306() =>
        Rejects(IgvmSamples.SnpTdx().Header(0x306, new byte[8]).Build(), "header #2 (RESERVED_DO_NOT_USE)", IgvmSamples.SnpTdx().Header(0x306, new byte[8]).HeaderOffsets()[2], "retired");

    [Fact]
    public void InvalidType0() => RejectsHeader(IgvmSamples.SnpTdx().Header(0, []), 2, "type 0x0", -8, "unknown type 0x0");

    // --- sections ---

    [Fact]
    public void PlatformAfterInitialization() =>
        RejectsHeader(IgvmSamples.SnpTdx().Policy(0x30000, 1).Platform(4, B.Vsm), 3, "IGVM_VHT_SUPPORTED_PLATFORM", -8, "a platform header after initialization headers");

    [Fact]
    public void InitializationAfterDirective() =>
        RejectsHeader(IgvmSamples.SnpTdx().Page(0x1000, 1).Policy(0x30000, 1), 3, "IGVM_VHT_GUEST_POLICY", -8, "an initialization header after directive headers".Replace("an ", "a ", StringComparison.Ordinal));

    [Fact]
    public void NoPlatform() => Rejects(new B().Build(), "variable header section", 24, "no IGVM_VHT_SUPPORTED_PLATFORM header");

    // --- platforms ---

    [Fact]
    public void PlatformMaskWithTwoBits() => RejectsHeader(new B().Platform(3, B.SevSnp), 0, "IGVM_VHT_SUPPORTED_PLATFORM", 0, "does not have exactly one bit set");

    [Fact]
    public void PlatformMaskTwice() => RejectsHeader(new B().Platform(1, B.SevSnp).Platform(1, B.Tdx), 1, "IGVM_VHT_SUPPORTED_PLATFORM", 0, "is already header #0's");

    [Fact]
    public void PlatformTypeTwice() => RejectsHeader(new B().Platform(1, B.SevSnp).Platform(2, B.SevSnp), 1, "IGVM_VHT_SUPPORTED_PLATFORM", 5, "platform sev-snp is already declared by header #0");

    [Fact]
    public void UnknownPlatformType() => RejectsHeader(new B().Platform(1, 7), 0, "IGVM_VHT_SUPPORTED_PLATFORM", 5, "platform type 0x7");

    [Fact]
    public void HighestVtl1() => RejectsHeader(new B().Platform(1, B.Vsm, highestVtl: 1), 0, "IGVM_VHT_SUPPORTED_PLATFORM", 4, "highest VTL 1 is not 0 or 2");

    [Fact]
    public void PlatformVersion2() => RejectsHeader(new B().Platform(1, B.Tdx, version: 2), 0, "IGVM_VHT_SUPPORTED_PLATFORM", 6, "platform version 2");

    [Fact]
    public void NativeWithSharedGpaBoundary() => RejectsHeader(new B().Platform(1, B.Native, sharedGpaBoundary: 1UL << 46), 0, "IGVM_VHT_SUPPORTED_PLATFORM", 8, "must be 0 for native");

    // --- compatibility masks ---

    [Fact]
    public void MaskZero() => RejectsHeader(IgvmSamples.SnpTdx().Page(0x1000, 0), 2, "IGVM_VHT_PAGE_DATA", 8, "compatibility mask 0 names no platform");

    [Fact]
    public void MaskNamingAnUndeclaredPlatform() =>
        RejectsHeader(IgvmSamples.SnpTdx().Policy(0x30000, 1 | 4), 2, "IGVM_VHT_GUEST_POLICY", 8, "has bits 0x4 that name no declared platform (declared: 0x3)");

    [Fact]
    public void MaskOfAMaskFirstStructure() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(B.SnpIdBlock, new B.V(696).U32(0, 8)), 2, "IGVM_VHT_SNP_ID_BLOCK", 0, "name no declared platform");

    // --- page data ---

    [Fact]
    public void PageGpaNot4KAligned() => RejectsHeader(IgvmSamples.SnpTdx().Page(0x1800, 1), 2, "IGVM_VHT_PAGE_DATA", 0, "gpa 0x1800 is not 4 KiB aligned");

    [Fact]
    public void TwoMegabytePageGpaNot2MAligned() =>
        RejectsHeader(IgvmSamples.SnpTdx().Page(0x1000, 1, flags: B.Flag2Mb), 2, "IGVM_VHT_PAGE_DATA", 0, "gpa of a 2 MiB page 0x1000 is not 2 MiB aligned");

    [Fact]
    public void PageDataPastTheFile() =>
        RejectsHeader(IgvmSamples.SnpTdx().Page(0x1000, 1, new byte[100]), 2, "IGVM_VHT_PAGE_DATA", 12, "the page's data (0x1000 bytes at file offset");

    [Fact]
    public void PageDataInsideTheVariableHeaders() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(B.PageData, new B.V(24).U64(0, 0x1000).U32(8, 1).U32(12, 24)), 2, "IGVM_VHT_PAGE_DATA", 12, "is not inside the file data");

    [Fact]
    public void PageReservedNotZero() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(B.PageData, new B.V(24).U64(0, 0x1000).U32(8, 1).U16(22, 0x100)), 2, "IGVM_VHT_PAGE_DATA", 23, "reserved is not zero");

    [Fact]
    public void PageReservedFlag() =>
        RejectsHeader(IgvmSamples.SnpTdx().Page(0x1000, 1, flags: 8), 2, "IGVM_VHT_PAGE_DATA", 16, "reserved flag bits 0x8 are set");

    [Fact]
    public void PageDataTypeUnknown() =>
        RejectsHeader(IgvmSamples.SnpTdx().Page(0x1000, 1, dataType: 4), 2, "IGVM_VHT_PAGE_DATA", 20, "data_type 0x4");

    // --- parameter areas ---

    [Fact]
    public void InsertBeforeDeclare() =>
        RejectsHeader(IgvmSamples.SnpTdx().Insert(0x5000, 1, 0).Area(0x1000, 0), 2, "IGVM_VHT_PARAMETER_INSERT", 12, "parameter area index 0 is used before a PARAMETER_AREA declares it");

    [Fact]
    public void UsageBeforeDeclare() =>
        RejectsHeader(IgvmSamples.SnpTdx().Parameter(B.CommandLine, 3), 2, "IGVM_VHT_COMMAND_LINE", 0, "parameter area index 3 is used before");

    [Fact]
    public void DuplicateIndex() =>
        RejectsHeader(IgvmSamples.SnpTdx().Area(0x1000, 5).Area(0x2000, 5), 3, "IGVM_VHT_PARAMETER_AREA", 8, "parameter area index 5 is declared again (first by header #2)");

    [Fact]
    public void UsageAfterInsert() =>
        RejectsHeader(IgvmSamples.SnpTdx().Area(0x1000, 0).Insert(0x5000, 1, 0).Parameter(B.VpCount, 0), 4, "IGVM_VHT_VP_COUNT_PARAMETER", 0, "was already inserted by header #3");

    [Fact]
    public void InsertTwice() =>
        RejectsHeader(IgvmSamples.SnpTdx().Area(0x1000, 0).Insert(0x5000, 1, 0).Insert(0x6000, 2, 0), 4, "IGVM_VHT_PARAMETER_INSERT", 12, "already inserted");

    [Fact]
    public void UsageOutsideTheArea() =>
        RejectsHeader(IgvmSamples.SnpTdx().Area(0x1000, 0).Parameter(B.Madt, 0, 0x1000), 3, "IGVM_VHT_MADT", 4, "byte offset 0x1000 is outside parameter area 0 (0x1000 bytes)");

    [Fact]
    public void AreaNotWholePages() => RejectsHeader(IgvmSamples.SnpTdx().Area(0x800, 0), 2, "IGVM_VHT_PARAMETER_AREA", 0, "not a whole number of 4 KiB pages");

    [Fact]
    public void AreaInitialDataPastTheFile() =>
        RejectsHeader(IgvmSamples.SnpTdx().Area(0x2000, 0, new byte[0x1000]), 2, "IGVM_VHT_PARAMETER_AREA", 12, "the parameter area's initial contents (0x2000 bytes");

    [Fact]
    public void InsertGpaUnaligned() => RejectsHeader(IgvmSamples.SnpTdx().Area(0x1000, 0).Insert(0x5010, 1, 0), 3, "IGVM_VHT_PARAMETER_INSERT", 0, "gpa 0x5010 is not 4 KiB aligned");

    // --- VP context ---

    [Fact]
    public void VpContextForTdx() => RejectsHeader(IgvmSamples.SnpTdx().Vp(0, 2, new byte[4096]), 2, "IGVM_VHT_VP_CONTEXT", 8, "a VP context for TDX");

    [Fact]
    public void VpContextForTwoPlatforms() => RejectsHeader(IgvmSamples.SnpTdx().Vp(0, 3, new byte[4096]), 2, "IGVM_VHT_VP_CONTEXT", 8, "names more than one platform");

    [Fact]
    public void VmsaGpaUnaligned() => RejectsHeader(IgvmSamples.SnpTdx().Vp(0x1008, 1, new byte[4096]), 2, "IGVM_VHT_VP_CONTEXT", 0, "VMSA gpa 0x1008 is not 4 KiB aligned");

    [Fact]
    public void VmsaShorterThanAPage() => RejectsHeader(IgvmSamples.SnpTdx().Vp(IgvmSamples.VmsaGpa, 1, new byte[2048]), 2, "IGVM_VHT_VP_CONTEXT", 12, "the sev-snp VP context (0x1000 bytes");

    [Fact]
    public void VbsRegisterListPastTheFile()
    {
        byte[] list = new byte[4 + 32];
        list[0] = 2; // two registers, one present
        RejectsHeader(new B().Platform(1, B.Vsm, highestVtl: 2).Vp(0, 1, list), 1, "IGVM_VHT_VP_CONTEXT", 12, "the vsm VP context (0x44 bytes");
    }

    [Fact]
    public void VbsRegisterListEmpty() => RejectsHeader(new B().Platform(1, B.Vsm).Vp(0, 1, new byte[4]), 1, "IGVM_VHT_VP_CONTEXT", 12, "has no registers");

    [Fact]
    public void VbsContextGpaNotZero() => RejectsHeader(new B().Platform(1, B.Vsm).Vp(0x1000, 1, new byte[36]), 1, "IGVM_VHT_VP_CONTEXT", 0, "must be 0 for vsm");

    [Fact]
    public void VpContextReservedNotZero() =>
        RejectsHeader(IgvmSamples.SnpTdx().HeaderWithData(B.VpContext, new B.V(20).U64(0, IgvmSamples.VmsaGpa).U32(8, 1).U16(18, 1), 12, new byte[4096]), 2, "IGVM_VHT_VP_CONTEXT", 18, "reserved is not zero");

    // --- the other structures' reserved fields and alignment ---

    [Fact]
    public void GuestPolicyReservedNotZero() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(B.GuestPolicy, new B.V(16).U64(0, 0x30000).U32(8, 1).U32(12, 0x10)), 2, "IGVM_VHT_GUEST_POLICY", 12, "reserved is not zero");

    [Fact]
    public void PageTableRelocationReservedNotZero() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(B.PageTableRelocation, new B.V(32).U32(0, 1).U8(7, 1).U64(16, 0x1000)), 2, "IGVM_VHT_PAGE_TABLE_RELOCATION_REGION", 7, "reserved is not zero");

    [Fact]
    public void PageTableRelocationUsedMoreThanSize() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(B.PageTableRelocation, new B.V(32).U32(0, 1).U64(16, 0x1000).U64(24, 0x2000)), 2, "IGVM_VHT_PAGE_TABLE_RELOCATION_REGION", 24, "used_size 0x2000 is larger");

    [Fact]
    public void RelocationAlignmentZero() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(B.RelocatableRegion, new B.V(48).U32(0, 1)), 2, "IGVM_VHT_RELOCATABLE_REGION", 8, "relocation_alignment 0x0");

    [Fact]
    public void RelocatableRegionGpaOffAlignment() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(B.RelocatableRegion, new B.V(48).U32(0, 1).U64(8, 0x20_0000).U64(16, 0x1000)), 2, "IGVM_VHT_RELOCATABLE_REGION", 16, "relocation_region_gpa 0x1000 is not 2 MiB aligned");

    [Fact]
    public void CcaPolicyReservedNotZero() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(B.CcaPolicy, new B.V(32).U32(0, 1).U8(30, 1)), 2, "IGVM_VHT_CCA_POLICY", 30, "reserved2 is not zero");

    [Fact]
    public void CcaPolicyConflict() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(B.CcaPolicy, new B.V(32).U32(0, 1).U64(8, 3).U64(16, 2)), 2, "IGVM_VHT_CCA_POLICY", 16, "attribute bits 0x2 are required both clear and set");

    [Fact]
    public void CorimDataPastTheFile() =>
        RejectsHeader(IgvmSamples.SnpTdx().HeaderWithData(B.CorimDocument, new B.V(16).U32(0, 1).U32(8, 64), 4, new byte[8]), 2, "IGVM_VHT_CORIM_DOCUMENT", 4, "the CoRIM data (0x40 bytes");

    [Fact]
    public void RequiredMemoryUnalignedSize() =>
        RejectsHeader(IgvmSamples.SnpTdx().Required(0x10_0000, 1, 0x1800), 2, "IGVM_VHT_REQUIRED_MEMORY", 12, "number_of_bytes 0x1800 is not 4 KiB aligned");

    [Fact]
    public void RequiredMemoryReservedFlag() =>
        RejectsHeader(IgvmSamples.SnpTdx().Required(0x10_0000, 1, 0x1000, 2), 2, "IGVM_VHT_REQUIRED_MEMORY", 16, "reserved flag bits 0x2");

    [Fact]
    public void ErrorRangeUnalignedGpa() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(B.ErrorRange, new B.V(16).U64(0, 0x10).U32(8, 1).U32(12, 0x1000)), 2, "IGVM_VHT_ERROR_RANGE", 0, "gpa 0x10 is not 4 KiB aligned");

    [Fact]
    public void SnpIdBlockReservedNotZero() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(B.SnpIdBlock, new B.V(696).U32(0, 1).U8(6, 1)), 2, "IGVM_VHT_SNP_ID_BLOCK", 6, "reserved is not zero");

    [Fact]
    public void SnpIdBlockPublicKeyReservedNotZero() =>
        RejectsHeader(IgvmSamples.SnpTdx().Header(B.SnpIdBlock, new B.V(696).U32(0, 1).U8(544 + 4, 1)), 2, "IGVM_VHT_SNP_ID_BLOCK", 548, "author_public_key.reserved is not zero");
}
