using CocoLaunch.Abi;
using CocoLaunch.Formats.Igvm;
using B = CocoLaunch.Tests.Shared.IgvmFileBuilder;

namespace CocoLaunch.Formats.Tests.Igvm;

/// <summary>
/// The product writer against the test-side builder, which lays the same structures out from igvm_defs with its
/// own CRC and shares no code with the product: the same headers must come out byte for byte, and read back.
/// </summary>
public sealed class IgvmWriterTests
{
    private static byte[] Page(byte fill) => Enumerable.Repeat(fill, 4096).ToArray();

    [Fact]
    public void Writer_IsByteForByteTheTestBuilder_WhateverOrderSectionsAreAddedIn()
    {
        var w = new IgvmWriter();
        uint snp = w.Platform(IgvmPlatformType.SevSnp);
        w.PageData(new Gpa(0x1000), snp, Page(0x11));
        w.GuestPolicy(0x30000, snp); // an initialization header added after a directive still goes before it
        w.PageData(new Gpa(0x2000), snp, ReadOnlyMemory<byte>.Empty, IgvmPageDataFlags.Unmeasured);
        w.PageData(new Gpa(0x3000), snp, ReadOnlyMemory<byte>.Empty, type: IgvmPageDataType.Secrets);
        w.PageData(new Gpa(0x4000), snp, Page(0x44), type: IgvmPageDataType.CpuidData);
        w.VpContext(new Gpa(0xFFFF_FFFF_F000), snp, 0, Page(0x5A));

        byte[] expected = new B().Platform(1, B.SevSnp).Policy(0x30000, 1)
            .Page(0x1000, 1, Page(0x11))
            .Page(0x2000, 1, flags: B.FlagUnmeasured)
            .Page(0x3000, 1, dataType: 1)
            .Page(0x4000, 1, Page(0x44), dataType: 2)
            .Vp(0xFFFF_FFFF_F000, 1, Page(0x5A))
            .Build();
        byte[] written = w.ToBytes();
        Assert.Equal(expected, written);
        Assert.Equal(7, IgvmFile.Parse(written).Headers.Count);
    }

    [Fact]
    public void IdenticalPages_ShareTheirFileData()
    {
        var w = new IgvmWriter();
        uint tdx = w.Platform(IgvmPlatformType.Tdx);
        for (int i = 0; i < 8; i++)
        {
            w.PageData(new Gpa((ulong)i * 4096), tdx, Page(0xFF));
        }

        var file = IgvmFile.Parse(w.ToBytes());
        Assert.Single(file.Headers.OfType<IgvmPageData>().Select(p => p.FileOffset).Distinct());
    }

    [Fact]
    public void SnpIdBlock_ReadsBackField_ForField()
    {
        byte[] Bytes(int n, byte fill) => Enumerable.Repeat(fill, n).ToArray();
        var w = new IgvmWriter();
        uint snp = w.Platform(IgvmPlatformType.SevSnp);
        var id = new IgvmSnpIdentity(1, Bytes(48, 1), Bytes(16, 2), Bytes(16, 3), 1, 5, 1, 1,
            new IgvmSnpSignature(Bytes(72, 4), Bytes(72, 5)), new IgvmSnpPublicKey(2, Bytes(72, 6), Bytes(72, 7)),
            new IgvmSnpSignature(Bytes(72, 8), Bytes(72, 9)), new IgvmSnpPublicKey(2, Bytes(72, 10), Bytes(72, 11)));
        w.SnpIdBlock(snp, id);
        var read = IgvmFile.Parse(w.ToBytes()).Headers.OfType<IgvmSnpIdBlock>().Single().Identity;
        Assert.Equal((1, 5u, 1u), ((int)read.AuthorKeyEnabled, read.GuestSvn, read.Version));
        Assert.Equal(id.Ld.ToArray(), read.Ld.ToArray());
        Assert.Equal(id.ImageId.ToArray(), read.ImageId.ToArray());
        Assert.Equal(id.IdPublicKey.Qy.ToArray(), read.IdPublicKey.Qy.ToArray());
        Assert.Equal(id.AuthorKeySignature.S.ToArray(), read.AuthorKeySignature.S.ToArray());
        Assert.Equal(2u, read.AuthorPublicKey.Curve);
    }

    [Fact]
    public void NoPlatform_IsRefused() => Assert.Throws<InvalidOperationException>(() => new IgvmWriter().ToBytes());
}
