using System.Buffers.Binary;
using System.Security.Cryptography;
using CocoLaunch.Kvm;
using static CocoLaunch.Vmm.Tests.SnpHarness;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// The GHCB events that carry data in SW_SCRATCH (guest-abi.md §5.3, KVM's <c>setup_vmgexit_scratch</c>): string
/// IOIO, MMIO read and write, and the extended guest request's empty certificate table.
/// </summary>
public sealed class SnpGhcbScratchTests
{
    private const int Rax = 0x1F8, Rbx = 0x318, Scratch = 0x3A8;
    private const ulong SharedBuffer = GhcbGpa + 0x800, Outside = GhcbGpa + 0x1_0000;

    /// <summary>IOIO EXITINFO1: string, the one-hot data size, the port, IN in bit 0.</summary>
    private static ulong StringIo(ushort port, int size, bool isIn) => ((ulong)port << 16) | ((ulong)size << 4) | 4 | (isIn ? 1UL : 0);

    [Fact]
    public void StringOut_FromTheGhcbSharedBuffer_IsOneIoExitWithEveryTransfer()
    {
        var h = Create();
        h.WriteGhcb(SevVcpuBackend.NaeIoio, StringIo(0xE9, 1, isIn: false), 5, rax: null, (Scratch, SharedBuffer));
        h.WriteShared(SharedBuffer, "hello"u8.ToArray());

        var io = Assert.IsType<KvmExit.Io>(h.Bsp.Run());
        Assert.Equal((true, 1, (ushort)0xE9, 5u, "hello"), (io.IsOut, io.Size, io.Port, io.Count, System.Text.Encoding.ASCII.GetString(io.Data)));
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.Equal((0UL, 0UL), h.GhcbResult());
    }

    [Fact]
    public void StringIn_LandsInTheScratchArea()
    {
        var h = Create();
        h.WriteGhcb(SevVcpuBackend.NaeIoio, StringIo(0x3F8, 2, isIn: true), 3, rax: null, (Scratch, SharedBuffer + 0x10));

        var io = Assert.IsType<KvmExit.Io>(h.Bsp.Run());
        Assert.Equal((false, 2, 3u, 6), (io.IsOut, io.Size, io.Count, io.Data.Length));
        byte[] data = [1, 2, 3, 4, 5, 6];
        data.CopyTo(io.Data, 0);
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.Equal(data, h.ReadShared(SharedBuffer + 0x10, 6));
        Assert.Equal((0UL, 0UL), h.GhcbResult());
    }

    [Fact]
    public void StringOut_OutsideTheGhcb_IsCopiedIn_AndSplitIntoPageSizedExits()
    {
        var h = Create();
        h.MakeShared(Outside, 0x2000);
        byte[] data = [.. Enumerable.Range(0, 6000).Select(i => (byte)(i * 7))];
        h.WriteShared(Outside, data);
        h.WriteGhcb(SevVcpuBackend.NaeIoio, StringIo(0xE9, 1, isIn: false), 6000, rax: null, (Scratch, Outside));

        var first = Assert.IsType<KvmExit.Io>(h.Bsp.Run());
        var second = Assert.IsType<KvmExit.Io>(h.Bsp.Run());
        Assert.Equal((4096u, 1904u), (first.Count, second.Count));
        Assert.Equal(data, first.Data.Concat(second.Data).ToArray());
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.Equal((0UL, 0UL), h.GhcbResult());
    }

    [Theory]
    [InlineData(GhcbGpa + 0x100, 4UL, "inside the GHCB but before its shared buffer")]
    [InlineData(GhcbGpa + 0xFF0 - 2, 4UL, "running past GHCB + 0xFF0")]
    [InlineData(0UL, 1UL, "not set")]
    [InlineData(Outside, (16 * 4096) + 1UL, "over the 16-page limit")]
    [InlineData(Outside + 0x4000, 4UL, "private memory")]
    public void InvalidScratchArea_IsRefusedWith2And3(ulong scratch, ulong count, string why)
    {
        var h = Create();
        h.MakeShared(Outside, 0x2000);
        h.WriteGhcb(SevVcpuBackend.NaeIoio, StringIo(0xE9, 1, isIn: false), count, rax: null, (Scratch, scratch));
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.True(h.GhcbResult() == (2UL, 3UL), why);
    }

    [Fact]
    public void StringIo_OrMmio_WithoutScratch_IsMissingInput()
    {
        var h = Create();
        h.WriteGhcb(SevVcpuBackend.NaeIoio, StringIo(0xE9, 1, isIn: false), 1, rax: null);
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.Equal((2UL, 4UL), h.GhcbResult());

        h.Bsp.SetCpu(LongMode(Code), Cpu.CpuVendor.Amd);
        h.WriteGhcb(SevVcpuBackend.NaeMmioRead, 0xFED0_0000, 4, rax: null);
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.Equal((2UL, 4UL), h.GhcbResult());
    }

    [Fact]
    public void MmioRead_Of12Bytes_IsTwoMmioExits_8Then4_DataInTheScratchArea()
    {
        var h = Create();
        h.WriteGhcb(SevVcpuBackend.NaeMmioRead, 0xFED0_0000, 12, rax: null, (Scratch, SharedBuffer));

        var low = Assert.IsType<KvmExit.Mmio>(h.Bsp.Run());
        Assert.Equal((0xFED0_0000UL, 8, false), (low.Address.Value, low.Length, low.IsWrite));
        new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }.CopyTo(low.Data, 0);
        var high = Assert.IsType<KvmExit.Mmio>(h.Bsp.Run());
        Assert.Equal((0xFED0_0008UL, 4, false), (high.Address.Value, high.Length, high.IsWrite));
        new byte[] { 9, 10, 11, 12 }.CopyTo(high.Data, 0);
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (byte)i), h.ReadShared(SharedBuffer, 12));
        Assert.Equal((0UL, 0UL), h.GhcbResult());
    }

    [Fact]
    public void MmioWrite_CarriesTheScratchBytes()
    {
        var h = Create();
        h.WriteGhcb(SevVcpuBackend.NaeMmioWrite, 0xFEC0_0010, 4, rax: null, (Scratch, SharedBuffer + 8));
        h.WriteShared(SharedBuffer + 8, [0xDE, 0xAD, 0xBE, 0xEF]);
        var write = Assert.IsType<KvmExit.Mmio>(h.Bsp.Run());
        Assert.Equal((0xFEC0_0010UL, true, 4), (write.Address.Value, write.IsWrite, write.Length));
        Assert.Equal(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF }, write.Data);
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.Equal((0UL, 0UL), h.GhcbResult());
    }

    private const ulong RequestGpa = GhcbGpa + 0x1000, ResponseGpa = GhcbGpa + 0x2000, Certificates = GhcbGpa + 0x3000;

    [Fact]
    public void ExtendedGuestRequest_ForAReport_ZeroesTheCertificateTable_AndAnswersAsTheGuestRequest()
    {
        var h = Create();
        h.MakeShared(RequestGpa, 0x3000, fill: 0xFF);
        h.WriteShared(RequestGpa, Request(h.Vm.Snp!.Vmpck(0), 1, new byte[96]));
        h.WriteGhcb(SevVcpuBackend.NaeExtGuestRequest, RequestGpa, ResponseGpa, rax: Certificates, (Rbx, 1));

        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.Equal((0UL, 0UL), h.GhcbResult());
        Assert.Equal(new byte[24], h.ReadShared(Certificates, 24)); // the terminating zero entry
        Assert.Equal(0xFF, h.ReadShared(Certificates + 24, 1)[0]);   // and nothing more
        var response = h.ReadShared(ResponseGpa, 4096);
        Assert.Equal((2UL, (byte)6), (BinaryPrimitives.ReadUInt64LittleEndian(response.AsSpan(0x20)), response[0x34])); // MSG_REPORT_RSP, seqno + 1
    }

    [Fact]
    public void ExtendedGuestRequest_WithoutPages_LeavesTheBufferAlone()
    {
        var h = Create();
        h.MakeShared(RequestGpa, 0x3000, fill: 0xFF);
        h.WriteShared(RequestGpa, Request(h.Vm.Snp!.Vmpck(0), 1, new byte[96]));
        h.WriteGhcb(SevVcpuBackend.NaeExtGuestRequest, RequestGpa, ResponseGpa, rax: Certificates, (Rbx, 0));
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.Equal((0UL, 0UL), h.GhcbResult());
        Assert.All(h.ReadShared(Certificates, 24), b => Assert.Equal(0xFF, b));
    }

    [Theory]
    [InlineData(false, true, Certificates, "RAX missing")]
    [InlineData(true, false, Certificates, "RBX missing")]
    [InlineData(true, true, Certificates + 8, "a certificate buffer not page-aligned")]
    public void ExtendedGuestRequest_ForAReport_WithBadCertificateInputs_IsInvalidInput(bool withRax, bool withRbx, ulong buffer, string why)
    {
        var h = Create();
        h.MakeShared(RequestGpa, 0x3000);
        h.WriteShared(RequestGpa, Request(h.Vm.Snp!.Vmpck(0), 1, new byte[96]));
        (int, ulong)[] rbx = withRbx ? [(Rbx, 1)] : [];
        h.WriteGhcb(SevVcpuBackend.NaeExtGuestRequest, RequestGpa, ResponseGpa, withRax ? buffer : null, rbx);
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.True(h.GhcbResult() == (2UL, 5UL), why);
    }

    [Fact]
    public void ExtendedGuestRequest_OfAnotherMessageType_NeedsNoCertificateBuffer()
    {
        var h = Create();
        h.MakeShared(RequestGpa, 0x3000);
        h.WriteShared(RequestGpa, Request(h.Vm.Snp!.Vmpck(0), 1, new byte[32], type: 3)); // MSG_KEY_REQ
        h.WriteGhcb(SevVcpuBackend.NaeExtGuestRequest, RequestGpa, ResponseGpa, rax: null);
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        Assert.NotEqual((2UL, 5UL), h.GhcbResult());
    }

    /// <summary>A request page as a guest builds it (guest-abi.md §7): header, AAD = header[0x30..0x60), IV = seqno LE.</summary>
    private static byte[] Request(byte[] key, ulong seqno, byte[] payload, byte type = 5)
    {
        var page = new byte[4096];
        BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(0x20), seqno);
        page[0x30] = 1;
        page[0x31] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(page.AsSpan(0x32), 96);
        page[0x34] = type;
        page[0x35] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(page.AsSpan(0x36), (ushort)payload.Length);
        var iv = new byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(iv, seqno);
        using var aes = new AesGcm(key, 16);
        aes.Encrypt(iv, payload, page.AsSpan(96, payload.Length), page.AsSpan(0, 16), page.AsSpan(0x30, 0x30));
        return page;
    }
}
