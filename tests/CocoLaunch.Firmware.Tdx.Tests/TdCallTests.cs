using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Tdx.Tests;

/// <summary>TDCALL leaves of the emulated module after the TD is built (guest-abi.md §2), with the statuses the module ABI gives.</summary>
public sealed class TdCallTests
{
    private const ulong Added = 0x80_0000, Augmented = 0x20_0000, Free = 0x40_0000;

    [Fact]
    public void Accept_PendingPage_ZeroesAndMapsIt_ThenAlreadyAccepted()
    {
        var (td, call, memory) = Build();
        memory.Fill(Augmented, 0xAA);
        Assert.Equal(0UL, Tdcall(call, memory, TdCall.PageAccept, rcx: Augmented));
        Assert.Equal(SeptState.Mapped, td.StateOf(new Gpa(Augmented)));
        Assert.All(memory.Page(Augmented), b => Assert.Equal(0, b));
        Assert.Equal(TdCall.PageAlreadyAccepted, Tdcall(call, memory, TdCall.PageAccept, rcx: Augmented));
        Assert.Equal(TdCall.PageAlreadyAccepted, Tdcall(call, memory, TdCall.PageAccept, rcx: Added)); // PAGE.ADD'ed at build
    }

    [Theory]
    [InlineData(Augmented | 1, 0xC0000B0B00000001UL)] // 2M over a 4K leaf: size mismatch at level 1
    [InlineData(Augmented | 2, 0xC000010000000001UL)] // 1G: operand invalid, operand RCX
    [InlineData(Augmented | 0x800, 0xC000010000000001UL)] // reserved bits
    [InlineData(0x8000_0020_0000UL, 0xC000010000000001UL)] // shared GPA
    public void Accept_BadRequest_Status(ulong rcx, ulong status)
    {
        var (_, call, memory) = Build();
        Assert.Equal(status, Tdcall(call, memory, TdCall.PageAccept, rcx: rcx));
    }

    [Fact]
    public void Accept_WithNoSecureEptLeaf_IsAnEptViolationForTheHost()
    {
        var (td, call, memory) = Build();
        var gpr = Registers(TdCall.PageAccept, rcx: Free);
        Assert.Equal(TdcallOutcome.EptViolation, call.Run(gpr, new TdxVcpu(0), memory, out var faultGpa));
        Assert.Equal(new Gpa(Free), faultGpa);
        td.PageAug(new Gpa(Free)); // what KVM does on that exit, before running the TDCALL again
        Assert.Equal(TdcallOutcome.Done, call.Run(gpr, new TdxVcpu(0), memory));
        Assert.Equal(0UL, gpr[0]);
    }

    [Fact]
    public void VpInfo_ReportsGpawAttributesAndVcpus()
    {
        var (_, call, memory) = Build();
        var gpr = Registers(TdCall.VpInfo);
        call.Run(gpr, new TdxVcpu(1), memory);
        Assert.Equal((0UL, 48UL, 0x1000_0000UL, 2UL | (4UL << 32), 1UL), (gpr[0], gpr[1], gpr[2], gpr[8], gpr[9]));
    }

    [Fact]
    public void Report_WritesTheTdreportWithMrtdAndReportData()
    {
        var (td, call, memory) = Build();
        td.Accept(new Gpa(Augmented), 0);
        memory.Fill(Augmented + 0x400, 0x5A); // REPORTDATA
        Assert.Equal(0UL, Tdcall(call, memory, TdCall.MrReport, rcx: Augmented, rdx: Augmented + 0x400));
        var report = memory.Page(Augmented);
        Assert.Equal(td.Mrtd, report.AsSpan(0x210, 48).ToArray());
        Assert.All(report.AsSpan(0x80, 64).ToArray(), b => Assert.Equal(0x5A, b));
    }

    [Theory]
    [InlineData(Augmented + 0x200, Augmented + 0x400, 0UL, 0xC000010000000001UL)] // report not 1024-aligned
    [InlineData(Augmented, Augmented + 0x420, 0UL, 0xC000010000000002UL)] // REPORTDATA not 64-aligned
    [InlineData(Augmented, Augmented + 0x400, 1UL, 0xC000010000000008UL)] // subtype must be 0
    public void Report_BadOperand_NamesIt(ulong rcx, ulong rdx, ulong r8, ulong status)
    {
        var (_, call, memory) = Build();
        Assert.Equal(status, Tdcall(call, memory, TdCall.MrReport, rcx: rcx, rdx: rdx, r8: r8));
    }

    [Fact]
    public void RtmrExtend_ExtendsTheRegister_PrivateAndAlignedOnly()
    {
        var (td, call, memory) = Build();
        memory.Fill(Augmented, 0x11);
        Assert.Equal(0UL, Tdcall(call, memory, TdCall.RtmrExtend, rcx: Augmented, rdx: 2));
        var expected = System.Security.Cryptography.SHA384.HashData([.. new byte[48], .. Enumerable.Repeat((byte)0x11, 48)]);
        Assert.Equal(expected, td.Rtmrs[2]);
        Assert.Equal(0xC000010000000002UL, Tdcall(call, memory, TdCall.RtmrExtend, rcx: Augmented, rdx: 4));
        Assert.Equal(0xC000010000000001UL, Tdcall(call, memory, TdCall.RtmrExtend, rcx: Augmented | (1UL << 47), rdx: 0));
    }

    [Fact]
    public void VeInfoGet_ReturnsAndClearsThePendingVe()
    {
        var (_, call, memory) = Build();
        var vcpu = new TdxVcpu(0) { PendingVe = new VeInfo(30, 0x00E9_0008, 0, 0, 2) };
        var gpr = Registers(TdCall.VeInfoGet);
        call.Run(gpr, vcpu, memory);
        Assert.Equal((0UL, 30UL, 0xE9_0008UL, 2UL), (gpr[0], gpr[1], gpr[2], gpr[10]));
        gpr = Registers(TdCall.VeInfoGet);
        gpr[1] = 7;
        call.Run(gpr, vcpu, memory);
        Assert.Equal((TdCall.NoValidVeInfo, 0UL), (gpr[0], gpr[1]));
    }

    [Fact]
    public void VmRdWr_KnownFieldsOnly()
    {
        var (_, call, memory) = Build();
        Assert.Equal(0UL, Tdcall(call, memory, TdCall.VmWr, rdx: TdCall.TdCtls, r8: 1, r9: ulong.MaxValue));
        var gpr = Registers(TdCall.VmRd, rdx: TdCall.TdCtls);
        call.Run(gpr, new TdxVcpu(0), memory);
        Assert.Equal((0UL, 1UL), (gpr[0], gpr[8]));
        Assert.Equal(0xC000010000000002UL, Tdcall(call, memory, TdCall.VmRd, rdx: 0x1234));
    }

    [Fact]
    public void UnknownLeafOrReservedRaxBits_OperandInvalidRax()
    {
        var (_, call, memory) = Build();
        Assert.Equal(0xC000010000000000UL, Tdcall(call, memory, 99));
        Assert.Equal(0xC000010000000000UL, Tdcall(call, memory, TdCall.VpInfo | (1UL << 24)));
    }

    private static (TdxTd Td, TdCall Call, FakeMemory Memory) Build()
    {
        var td = new TdxTd();
        td.MngInit(TdParams.Default);
        td.MemPageAdd(new Gpa(Added), new byte[4096], new byte[4096]);
        td.MrFinalize();
        td.PageAug(new Gpa(Augmented));
        return (td, new TdCall(td, maxVcpus: 4, initializedVcpus: () => 2), new FakeMemory());
    }

    private static ulong[] Registers(ulong leaf, ulong rcx = 0, ulong rdx = 0, ulong r8 = 0, ulong r9 = 0)
    {
        var gpr = new ulong[16];
        (gpr[0], gpr[1], gpr[2], gpr[8], gpr[9]) = (leaf, rcx, rdx, r8, r9);
        return gpr;
    }

    private static ulong Tdcall(TdCall call, FakeMemory memory, ulong leaf, ulong rcx = 0, ulong rdx = 0, ulong r8 = 0, ulong r9 = 0)
    {
        var gpr = Registers(leaf, rcx, rdx, r8, r9);
        Assert.Equal(TdcallOutcome.Done, call.Run(gpr, new TdxVcpu(0), memory));
        return gpr[0];
    }

    private sealed class FakeMemory : ITdGuestMemory
    {
        private readonly Dictionary<ulong, byte[]> pages = [];

        public byte[] Page(ulong gpa) => pages.TryGetValue(gpa & ~0xFFFUL, out var p) ? p : pages[gpa & ~0xFFFUL] = new byte[4096];

        public void Fill(ulong gpa, byte value) => Page(gpa).AsSpan((int)(gpa & 0xFFF)).Fill(value);

        public bool TryRead(ulong gpa, Span<byte> destination)
        {
            Page(gpa).AsSpan((int)(gpa & 0xFFF), destination.Length).CopyTo(destination);
            return true;
        }

        public bool TryWrite(ulong gpa, ReadOnlySpan<byte> source)
        {
            source.CopyTo(Page(gpa).AsSpan((int)(gpa & 0xFFF)));
            return true;
        }
    }
}
