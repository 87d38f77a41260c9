using System.Text;
using CocoLaunch.Abi;
using CocoLaunch.Formats.Igvm;
using CocoLaunch.Tests.Shared;
using B = CocoLaunch.Tests.Shared.IgvmFileBuilder;

namespace CocoLaunch.Formats.Tests.Igvm;

/// <summary>
/// The IGVM reader on files built byte by byte from igvm_defs' layouts (no IGVM file made outside this project is
/// available offline; see tests/data/README.md). The constants are pinned to microsoft/igvm igvm_defs/src/lib.rs at
/// commit e6c3ff1c34c3570e91e6c29bf3375313f5fafc39.
/// </summary>
public sealed class IgvmFileTests
{
    /// <summary>The CRC-32 check value ("123456789" → 0xCBF43926) of the zlib/IEEE parameters, an outside value.</summary>
    [Fact]
    public void Crc32_GivesTheCatalogueCheckValue()
    {
        Assert.Equal(0xCBF43926u, Crc32.Of("123456789"u8));
        Assert.Equal(0u, Crc32.Of([]));
        Assert.Equal(Crc32.Of("123456789"u8), Crc32.Append(Crc32.Of("1234"u8), "56789"u8));
        Assert.Equal(B.BitwiseCrc32(0, "123456789"u8), Crc32.Of("123456789"u8));
    }

    /// <summary>igvm_defs: IgvmVariableHeaderType, IgvmPlatformType, IGVM_MAGIC_VALUE, the IGVM_VHS_* sizes (repr(C)).</summary>
    [Fact]
    public void Constants_AreIgvmDefs()
    {
        Assert.Equal(0x4D564749u, IgvmFixedHeader.Magic);
        Assert.Equal(24, IgvmFixedHeader.V1Size);
        Assert.Equal(32, IgvmFixedHeader.V2Size);
        Assert.Equal(0x8000_0000u, IgvmNames.MayIgnoreBit);
        var types = new Dictionary<IgvmHeaderType, (uint Number, int Size)>
        {
            [IgvmHeaderType.SupportedPlatform] = (0x001, 16),
            [IgvmHeaderType.GuestPolicy] = (0x101, 16),
            [IgvmHeaderType.RelocatableRegion] = (0x102, 48),
            [IgvmHeaderType.PageTableRelocationRegion] = (0x103, 32),
            [IgvmHeaderType.CorimDocument] = (0x104, 16),
            [IgvmHeaderType.CorimSignature] = (0x105, 16),
            [IgvmHeaderType.CcaPolicy] = (0x106, 32),
            [IgvmHeaderType.ParameterArea] = (0x301, 16),
            [IgvmHeaderType.PageData] = (0x302, 24),
            [IgvmHeaderType.ParameterInsert] = (0x303, 16),
            [IgvmHeaderType.VpContext] = (0x304, 20),
            [IgvmHeaderType.RequiredMemory] = (0x305, 24),
            [IgvmHeaderType.VpCountParameter] = (0x307, 8),
            [IgvmHeaderType.Srat] = (0x308, 8),
            [IgvmHeaderType.Madt] = (0x309, 8),
            [IgvmHeaderType.MmioRanges] = (0x30A, 8),
            [IgvmHeaderType.SnpIdBlock] = (0x30B, 696),
            [IgvmHeaderType.MemoryMap] = (0x30C, 8),
            [IgvmHeaderType.ErrorRange] = (0x30D, 16),
            [IgvmHeaderType.CommandLine] = (0x30E, 8),
            [IgvmHeaderType.Slit] = (0x30F, 8),
            [IgvmHeaderType.Pptt] = (0x310, 8),
            [IgvmHeaderType.VbsMeasurement] = (0x311, 864),
            [IgvmHeaderType.DeviceTree] = (0x312, 8),
            [IgvmHeaderType.EnvironmentInfoParameter] = (0x313, 8),
        };
        foreach (var (type, (number, size)) in types)
        {
            Assert.Equal(number, (uint)type);
            Assert.Equal(size, IgvmHeaderDecoder.ValueSize(type));
        }

        Assert.Equal(0x306u, (uint)IgvmHeaderType.ReservedDoNotUse);
        Assert.Equal(
            [0, 1, 2, 3, 4, 5, 6],
            new[] { IgvmPlatformType.Native, IgvmPlatformType.VsmIsolation, IgvmPlatformType.SevSnp, IgvmPlatformType.Tdx, IgvmPlatformType.Sev, IgvmPlatformType.SevEs, IgvmPlatformType.Cca }.Select(p => (int)p));
        Assert.Equal([1u, 2u, 4u], new[] { IgvmPageDataFlags.Is2MbPage, IgvmPageDataFlags.Unmeasured, IgvmPageDataFlags.Shared }.Select(f => (uint)f));
        Assert.Equal(IgvmSection.Platform, IgvmNames.SectionOf(0x100));
        Assert.Equal(IgvmSection.Initialization, IgvmNames.SectionOf(0x200));
        Assert.Null(IgvmNames.SectionOf(0x300));
        Assert.Equal(IgvmSection.Directive, IgvmNames.SectionOf(0x400));
    }

    [Fact]
    public void EveryHeaderType_IsReadIntoItsRecord()
    {
        var builder = IgvmSamples.Every();
        byte[] bytes = builder.Build();
        var file = IgvmFile.Parse(bytes);
        long[] offsets = builder.HeaderOffsets();

        Assert.Equal(builder.Count, file.Headers.Count);
        Assert.Equal(offsets, file.Headers.Select(h => h.Offset));
        Assert.Equal(Enumerable.Range(0, builder.Count), file.Headers.Select(h => h.Index));
        Assert.Equal(["sev-snp", "tdx", "vsm", "cca"], file.Platforms.Select(p => p.PlatformName));
        Assert.Equal(new Gpa(1UL << 51), file.Platforms[0].SharedGpaBoundary);
        Assert.Equal(2, file.Platforms[2].HighestVtl);
        Assert.Equal(1u, file.FixedHeader.Version);
        Assert.Equal((uint)bytes.Length, file.FixedHeader.TotalFileSize);

        var seen = file.Headers.Select(h => h.Type).ToHashSet();
        foreach (var type in Enum.GetValues<IgvmHeaderType>().Where(t => t is not (IgvmHeaderType.Invalid or IgvmHeaderType.ReservedDoNotUse)))
        {
            Assert.Contains(type, seen);
        }

        Assert.Equal(0x30000UL, file.Headers.OfType<IgvmGuestPolicy>().First().Policy);
        var relocatable = Assert.Single(file.Headers.OfType<IgvmRelocatableRegion>());
        Assert.Equal((0x20_0000UL, new Gpa(0x4000_0000), (byte)3), (relocatable.RelocationAlignment, relocatable.MaximumGpa, relocatable.Flags));
        var pageTables = Assert.Single(file.Headers.OfType<IgvmPageTableRelocation>());
        Assert.Equal((new Gpa(0x10000), 0x4000UL, 0x2000UL), (pageTables.Gpa, pageTables.Size, pageTables.UsedSize));
        var corim = file.Headers.OfType<IgvmCorimData>().ToList();
        Assert.Equal([IgvmHeaderType.CorimDocument, IgvmHeaderType.CorimSignature], corim.Select(c => c.Type));
        Assert.Equal([16u, 8u], corim.Select(c => c.Size));
        var cca = Assert.Single(file.Headers.OfType<IgvmCcaPolicy>());
        Assert.Equal((1UL, 2UL, (byte)2, (byte)1), (cca.RequiredZeroes, cca.RequiredOnes, cca.HashAlgorithm, cca.LfaPolicy));

        var pages = file.Headers.OfType<IgvmPageData>().ToList();
        Assert.Equal(8, pages.Count);
        Assert.True(pages[1].IsZeroPage);
        Assert.Equal(PageSize.Size2M, pages[2].Size);
        Assert.Equal(IgvmPageDataFlags.Shared, pages[4].Flags);
        Assert.Equal(IgvmPageDataType.Secrets, pages[4].DataType);
        Assert.Equal(IgvmPageDataType.CpuidXf, pages[6].DataType);
        Assert.Equal(0x11, bytes[pages[0].FileOffset]);
        Assert.Equal(0x77, bytes[pages[7].FileOffset]);

        var vmsa = file.Headers.OfType<IgvmVpContext>().First();
        Assert.Equal(new Gpa(IgvmSamples.VmsaGpa), vmsa.Gpa);
        Assert.Equal(0x5A, bytes[vmsa.FileOffset]);
        var usages = file.Headers.OfType<IgvmParameterUsage>().ToList();
        Assert.Equal(10, usages.Count);
        Assert.Equal(0x900u, usages[^1].ByteOffset);
        Assert.Equal(IgvmHeaderType.EnvironmentInfoParameter, usages[^1].Type);
        var required = Assert.Single(file.Headers.OfType<IgvmRequiredMemory>());
        Assert.Equal((new Gpa(0x10_0000), 0x2000u, 1u), (required.Gpa, required.Bytes, required.Flags));
        var error = Assert.Single(file.Headers.OfType<IgvmErrorRange>());
        Assert.Equal((new Gpa(0x9000), 0x1000u), (error.Gpa, error.Bytes));

        var block = Assert.Single(file.Headers.OfType<IgvmSnpIdBlock>());
        var id = block.Identity;
        Assert.Equal((1u, (byte)1, 3u, 7u), (block.Mask, id.AuthorKeyEnabled, id.Version, id.GuestSvn));
        Assert.Equal((0x1D, 0xFA, 0x1A), (id.Ld.Span[0], id.FamilyId.Span[0], id.ImageId.Span[0]));
        Assert.Equal((0x5A, 0x5B), (id.IdKeySignature.R.Span[0], id.IdKeySignature.S.Span[0]));
        Assert.Equal((2u, 0x9A, 0x9B), (id.IdPublicKey.Curve, id.IdPublicKey.Qx.Span[0], id.IdPublicKey.Qy.Span[0]));
        Assert.Equal((0xA5, 0xA6), (id.AuthorKeySignature.R.Span[0], id.AuthorKeySignature.S.Span[0]));
        Assert.Equal((2u, 0xB1, 0xB2), (id.AuthorPublicKey.Curve, id.AuthorPublicKey.Qx.Span[0], id.AuthorPublicKey.Qy.Span[0]));
        Assert.Equal([48, 16, 16, 72], new[] { id.Ld.Length, id.FamilyId.Length, id.ImageId.Length, id.IdPublicKey.Qy.Length });
        var vbs = Assert.Single(file.Headers.OfType<IgvmVbsMeasurement>());
        Assert.Equal((0xDD, 0x5E, 0x9B), (vbs.BootMeasurementDigest.Span[0], vbs.Signature.Span[0], vbs.PublicKey.Span[0]));
        Assert.Equal([64, 256, 512], new[] { vbs.BootMeasurementDigest.Length, vbs.Signature.Length, vbs.PublicKey.Length });

        var ignored = Assert.IsType<IgvmIgnoredHeader>(file.Headers[^1]);
        Assert.True(ignored.MayIgnore);
        Assert.Equal(12u, ignored.Length);
    }

    [Fact]
    public void PageSummary_CountsPagesPerPlatformByKind()
    {
        var file = IgvmFile.Parse(IgvmSamples.Every().Build());
        var summary = file.PageSummary();
        Assert.Equal(["sev-snp", "tdx", "vsm", "cca"], summary.Select(s => s.Platform.PlatformName));
        Assert.Equal((7, 5, 1, 1, 2), (summary[0].Pages, summary[0].Measured, summary[0].Unmeasured, summary[0].Shared, summary[0].Zero));
        Assert.Equal((2, 2, 1), (summary[1].Pages, summary[1].Measured, summary[1].Zero));
        Assert.Equal(PageSize.Size4K + PageSize.Size2M, summary[1].Bytes);
        Assert.Equal(0, summary[2].Pages);
        Assert.Equal("sev-snp|tdx", file.PlatformNames(3));
    }

    [Fact]
    public void Version2_HasArchitectureAndPageSize()
    {
        var file = IgvmFile.Parse(new B { Version = 2, Architecture = 1 }.Platform(1, B.Cca).Page(0x1000, 1).Build());
        Assert.Equal(2u, file.FixedHeader.Version);
        Assert.Equal("aarch64", file.FixedHeader.ArchitectureName);
        Assert.Equal(4096u, file.FixedHeader.PageSize);
        Assert.Equal(32, file.FixedHeader.Size);
    }

    [Fact]
    public void KnownTypeWithMayIgnoreBit_IsReadAsItsType()
    {
        var file = IgvmFile.Parse(IgvmSamples.SnpTdx().Header(B.PageData | B.MayIgnore, new B.V(24).U64(0, 0x1000).U32(8, 1)).Build());
        var page = Assert.IsType<IgvmPageData>(file.Headers[2]);
        Assert.True(page.MayIgnore);
        Assert.Equal(IgvmHeaderType.PageData, page.Type);
    }

    [Fact]
    public void HasMagic_TellsIgvmFromOtherFiles()
    {
        Assert.True(IgvmFixedHeader.HasMagic(Encoding.ASCII.GetBytes("IGVM")));
        Assert.False(IgvmFixedHeader.HasMagic(Encoding.ASCII.GetBytes("IGV")));
        Assert.False(IgvmFixedHeader.HasMagic(Encoding.ASCII.GetBytes("MVGI")));
    }

    /// <summary>Every prefix of a valid file is refused as malformed IGVM, never with another exception.</summary>
    [Fact]
    public void EveryTruncation_IsAnIgvmFormatException()
    {
        byte[] bytes = IgvmSamples.Every().Build();
        for (int n = 0; n < bytes.Length; n++)
        {
            var e = Record.Exception(() => IgvmFile.Parse(bytes.AsSpan(0, n)));
            Assert.True(e is IgvmFormatException, $"prefix of {n} bytes: {e?.GetType().Name ?? "accepted"}: {e?.Message}");
        }
    }

    /// <summary>
    /// Seeded random byte changes in the headers: only success or IgvmFormatException. Half the cases fix the
    /// checksum after the change, so the flips reach the header rules instead of stopping at the CRC.
    /// </summary>
    [Fact]
    public void RandomByteFlips_AreAcceptedOrAnIgvmFormatException()
    {
        var builder = IgvmSamples.Every();
        byte[] valid = builder.Build();
        int headersEnd = (int)IgvmFile.Parse(valid).FixedHeader.FileDataStart;
        var rng = new Random(20261207);
        int accepted = 0, refused = 0;
        for (int i = 0; i < 4000; i++)
        {
            byte[] bytes = (byte[])valid.Clone();
            int flips = 1 + rng.Next(3);
            for (int f = 0; f < flips; f++)
            {
                int at = rng.Next(10) == 0 ? rng.Next(bytes.Length) : rng.Next(headersEnd);
                bytes[at] ^= (byte)(1 + rng.Next(255));
            }

            if (i % 2 == 0 && bytes.Length >= 24 && (uint)BitConverter.ToInt32(bytes, 4) is 1 or 2
                && BitConverter.ToUInt32(bytes, 8) + (ulong)BitConverter.ToUInt32(bytes, 12) <= (ulong)bytes.Length)
            {
                B.SetChecksum(bytes);
            }

            var e = Record.Exception(() => IgvmFile.Parse(bytes));
            Assert.True(e is null or IgvmFormatException, $"case {i}: {e?.GetType().Name}: {e?.Message}\n{e?.StackTrace}");
            _ = e is null ? accepted++ : refused++;
        }

        Assert.True(refused > 1000 && accepted > 10, $"accepted {accepted}, refused {refused}");
    }
}
