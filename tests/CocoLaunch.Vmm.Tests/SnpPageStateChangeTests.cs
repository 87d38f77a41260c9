using CocoLaunch.Kvm;
using static CocoLaunch.Vmm.Tests.SnpHarness;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// The GHCB page-state change (NAE 0x80000010) as <c>snp_begin_psc</c>/<c>snp_complete_one_psc</c> in
/// arch/x86/kvm/svm/sev.c walk the descriptor: which entries become one KVM_EXIT_HYPERCALL, and its arguments,
/// the KVM_MAP_GPA_RANGE page-size hint included (ENCRYPTED 0x10, PAGE_SZ_4K 0, PAGE_SZ_2M 1).
/// </summary>
public sealed class SnpPageStateChangeTests
{
    private const int Scratch = 0x3A8;
    private const ulong Descriptor = GhcbGpa + 0x800;
    private const ulong Private = 1, Shared = 2, Smash = 3;

    private static ulong Entry(ulong gfn, ulong op, bool large, ulong curPage = 0) => curPage | (gfn << 12) | (op << 52) | (large ? 1UL << 56 : 0);

    private static SnpHarness Psc(params ulong[] entries)
    {
        var h = Create();
        h.WriteGhcb(SevVcpuBackend.NaePsc, 0, 0, rax: null, (Scratch, Descriptor));
        var d = new byte[8 + (8 * entries.Length)];
        BitConverter.GetBytes((ushort)(entries.Length - 1)).CopyTo(d, 2);
        for (int i = 0; i < entries.Length; i++)
        {
            BitConverter.GetBytes(entries[i]).CopyTo(d, 8 + (8 * i));
        }

        h.WriteShared(Descriptor, d);
        return h;
    }

    private static (ulong Gpa, ulong Pages, ulong Attributes) Args(KvmExit exit)
    {
        var h = Assert.IsType<KvmExit.Hypercall>(exit);
        return (h.Args[0], h.Args[1], h.Args[2]);
    }

    [Fact]
    public void SnpBeginPsc_Contiguous2MEntries_OneExitWithThe2MHint()
    {
        var h = Psc(Entry(0x200, Private, true), Entry(0x400, Private, true));
        var exit = h.Bsp.Run();
        Assert.Equal((0x20_0000UL, 1024UL, 0x11UL), Args(exit));
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.Equal((0UL, 0UL), h.GhcbResult());
        var d = h.ReadShared(Descriptor, 24);
        Assert.Equal(2, BitConverter.ToUInt16(d, 0)); // cur_entry past both
        Assert.Equal(Entry(0x200, Private, true, 512), BitConverter.ToUInt64(d, 8));
        Assert.Equal(Entry(0x400, Private, true, 512), BitConverter.ToUInt64(d, 16));
    }

    /// <summary>
    /// A partly done 2M entry goes on at 4K from cur_page, keeping the first entry's 2M hint, and is not combined
    /// with the next entry (which would have to start at the first entry's GFN plus the pages left).
    /// </summary>
    [Fact]
    public void SnpBeginPsc_PartlyDone2MEntry_RestAt4K_NotCombined()
    {
        var h = Psc(Entry(0x200, Shared, true, curPage: 3), Entry(0x400, Shared, false));
        Assert.Equal((0x20_3000UL, 509UL, 0x1UL), Args(h.Bsp.Run()));
        Assert.Equal((0x40_0000UL, 1UL, 0x0UL), Args(h.Bsp.Run()));
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.Equal((0UL, 0UL), h.GhcbResult());
    }

    /// <summary>4K entries join while the operation, contiguity and size match; a change of operation starts a new exit.</summary>
    [Fact]
    public void SnpBeginPsc_4KRunsSplitByOperation()
    {
        var h = Psc(Entry(0x100, Private, false), Entry(0x101, Private, false), Entry(0x102, Shared, false), Entry(0x103, Shared, false));
        Assert.Equal((0x10_0000UL, 2UL, 0x10UL), Args(h.Bsp.Run()));
        Assert.Equal((0x10_2000UL, 2UL, 0x0UL), Args(h.Bsp.Run()));
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
    }

    /// <summary>SMASH/UNSMASH entries are completed without a userspace exit; the next range still exits.</summary>
    [Fact]
    public void SnpBeginPsc_UnsupportedOperation_CompletedWithoutExit()
    {
        var h = Psc(Entry(0x200, Smash, true), Entry(0x600, Private, false));
        Assert.Equal((0x60_0000UL, 1UL, 0x10UL), Args(h.Bsp.Run()));
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        var d = h.ReadShared(Descriptor, 24);
        Assert.Equal(Entry(0x200, Smash, true, 512), BitConverter.ToUInt64(d, 8));
    }

    /// <summary>A non-zero ret from userspace ends the event with VMGEXIT_PSC_ERROR_GENERIC (0x100 &lt;&lt; 32).</summary>
    [Fact]
    public void SnpCompleteOnePsc_FailedExit_ErrorGeneric()
    {
        var h = Psc(Entry(0x100, Private, false), Entry(0x200, Private, false));
        var exit = Assert.IsType<KvmExit.Hypercall>(h.Bsp.Run());
        exit.Ret = 1;
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.Equal((0UL, 0x100UL << 32), h.GhcbResult());
    }

    /// <summary>A misaligned 2M entry is VMGEXIT_PSC_ERROR_INVALID_ENTRY ((1 &lt;&lt; 32) | 2) with no exit.</summary>
    [Fact]
    public void SnpBeginPsc_Misaligned2MEntry_InvalidEntry()
    {
        var h = Psc(Entry(0x201, Private, true));
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.Equal((0UL, (1UL << 32) | 2), h.GhcbResult());
    }
}
