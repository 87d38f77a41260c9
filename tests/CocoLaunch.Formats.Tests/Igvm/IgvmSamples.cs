using CocoLaunch.Tests.Shared;
using B = CocoLaunch.Tests.Shared.IgvmFileBuilder;

namespace CocoLaunch.Formats.Tests.Igvm;

/// <summary>Test files built with <see cref="IgvmFileBuilder"/>: one with every header type, and small bases for rule tests.</summary>
internal static class IgvmSamples
{
    public const ulong VmsaGpa = 0xFFFF_FFFF_F000;

    public static byte[] Fill(int size, byte value) => Enumerable.Repeat(value, size).ToArray();

    /// <summary>SNP (mask 1) and TDX (mask 2): the base of the rule tests.</summary>
    public static B SnpTdx() => new B().Platform(1, B.SevSnp).Platform(2, B.Tdx);

    /// <summary>
    /// Every header type of igvm_defs, on four platforms (SNP 1, TDX 2, VSM 4, CCA 8), with an unknown may-ignore
    /// header at the end: 7 pages for SNP (4 measured, 1 unmeasured, 1 shared; 2 zero pages), 2 for TDX.
    /// </summary>
    public static B Every()
    {
        var b = new B()
            .Platform(1, B.SevSnp, sharedGpaBoundary: 1UL << 51).Platform(2, B.Tdx).Platform(4, B.Vsm, highestVtl: 2).Platform(8, B.Cca)
            .Policy(0x30000, 1)
            .Policy(0x2, 2)
            .Header(B.RelocatableRegion, new B.V(48).U32(0, 4).U16(4, 0).U8(6, 2).U8(7, 0x3).U64(8, 0x20_0000).U64(16, 0x20_0000).U64(24, 0x20_0000).U64(32, 0x20_0000).U64(40, 0x4000_0000))
            .Header(B.PageTableRelocation, new B.V(32).U32(0, 4).U16(4, 0).U8(6, 2).U64(8, 0x10000).U64(16, 0x4000).U64(24, 0x2000))
            .HeaderWithData(B.CorimDocument, new B.V(16).U32(0, 1).U32(8, 16), 4, Fill(16, 0xC0))
            .HeaderWithData(B.CorimSignature, new B.V(16).U32(0, 1).U32(8, 8), 4, Fill(8, 0x51))
            .Header(B.CcaPolicy, new B.V(32).U32(0, 8).U64(8, 0x1).U64(16, 0x2).U8(24, 2).U8(25, 1))
            .Area(0x1000, 0)
            .Area(0x2000, 1, Fill(0x2000, 0xAA));
        foreach (var (type, i) in new[] { B.VpCount, B.Srat, B.Madt, B.MmioRanges, B.MemoryMap, B.CommandLine, B.Slit, B.Pptt, B.DeviceTree, B.EnvironmentInfo }.Select((t, i) => (t, i)))
        {
            b.Parameter(type, 0, (uint)(i * 0x100));
        }

        byte[] vbsContext = new byte[4 + 32];
        vbsContext[0] = 1; // one register
        return b
            .Insert(0x5000, 1 | 2, 0)
            .Insert(0x8000, 1, 1)
            .Page(0x1000, 1 | 2, Fill(4096, 0x11))
            .Page(0x2000, 1)
            .Page(0x20_0000, 2, flags: B.Flag2Mb)
            .Page(0x3000, 1, Fill(4096, 0x33), flags: B.FlagUnmeasured)
            .Page(0x4000, 1, Fill(4096, 0x44), flags: B.FlagShared, dataType: 1)
            .Page(0x6000, 1, Fill(4096, 0x66), dataType: 2)
            .Page(0x7000, 1, dataType: 3)
            .Page(0xA000, 1, Fill(4096, 0x77))
            .Vp(VmsaGpa, 1, Fill(4096, 0x5A))
            .Vp(0, 4, vbsContext)
            .Required(0x10_0000, 4, 0x2000, 1)
            .Header(B.ErrorRange, new B.V(16).U64(0, 0x9000).U32(8, 1).U32(12, 0x1000))
            .Header(B.SnpIdBlock, SnpIdBlock())
            .Header(B.VbsMeasurement, new B.V(864).U32(0, 4).U32(4, 1).U32(24, 1).U32(28, 1).U8(32, 0xDD).U8(96, 0x5E).U8(352, 0x9B))
            .Header(0x8000_0390, new B.V(12).U32(0, 0xFEED));
    }

    /// <summary>IGVM_VHS_SNP_ID_BLOCK (696 bytes) with recognizable bytes at each field's start.</summary>
    public static byte[] SnpIdBlock() => new B.V(696)
        .U32(0, 1).U8(4, 1).U8(8, 0x1D).U8(56, 0xFA).U8(72, 0x1A).U32(88, 3).U32(92, 7).U32(96, 1).U32(100, 1)
        .U8(104, 0x5A).U8(176, 0x5B).U32(248, 2).U8(256, 0x9A).U8(328, 0x9B).U8(400, 0xA5).U8(472, 0xA6).U32(544, 2).U8(552, 0xB1).U8(624, 0xB2);
}
