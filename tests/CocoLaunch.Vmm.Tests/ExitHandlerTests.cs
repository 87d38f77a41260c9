using CocoLaunch.Abi;
using CocoLaunch.Kvm;
using CocoLaunch.Vmm.Boot;
using CocoLaunch.Vmm.Exits;
using static CocoLaunch.Vmm.Tests.VmmSetup;

namespace CocoLaunch.Vmm.Tests;

/// <summary>The exit handlers on synthetic exits: each decision, and the state it leaves for the next KVM_RUN.</summary>
public sealed class ExitHandlerTests
{
    private static (DebugDevices Devices, MemoryStream Console) Devices()
    {
        var console = new MemoryStream();
        return (new DebugDevices(console, console), console);
    }

    [Fact]
    public void PortIo_DebugconOut_IsConsoleOutput_AndTheGuestRunsOn()
    {
        var (devices, console) = Devices();
        var outcome = ExitHandlers.PortIo(devices, new KvmExit.Io(true, 1, 0xE9, 3, "abc"u8.ToArray()));
        Assert.Equal(ExitOutcome.Continue, outcome);
        Assert.Equal("abc", DebugDevices.Text(console.ToArray())); // a string OUT of three transfers
    }

    [Fact]
    public void PortIo_In_FillsTheExitData_Com1LsrSaysTransmitterEmpty()
    {
        var (devices, _) = Devices();
        var exit = new KvmExit.Io(false, 1, 0x3FD, 1, new byte[1]);
        ExitHandlers.PortIo(devices, exit);
        Assert.Equal(0x60, exit.Data[0]);
    }

    [Theory]
    [InlineData((ushort)0xF4, 4, 0x10u, "isa-debug-exit: status 33")]
    [InlineData((ushort)0x604, 2, 0x2000u, "ACPI power-off")]
    public void PortIo_ExitDevices_StopTheRun(ushort port, int size, uint value, string reason)
    {
        var (devices, _) = Devices();
        var outcome = ExitHandlers.PortIo(devices, new KvmExit.Io(true, size, port, 1, BitConverter.GetBytes(value)[..size]));
        Assert.Equal(new ExitOutcome.Stop(reason), outcome);
    }

    [Fact]
    public void PortIo_Pm1aWithAnotherSleepType_DoesNotPowerOff()
    {
        var (devices, _) = Devices();
        Assert.Equal(ExitOutcome.Continue, ExitHandlers.PortIo(devices, new KvmExit.Io(true, 2, 0x604, 1, BitConverter.GetBytes((ushort)(0x2000 | (1 << 10))))));
        Assert.False(devices.PoweredOff);
    }

    [Fact]
    public void GetQuote_WithoutAQuoteService_WritesQgsUnavailable_AndSucceeds()
    {
        var (vm, host, _) = ConversionVm(0x10_0000, 0x1000);
        var exit = new KvmExit.TdxGetQuote(0x10_0000, 0x1000);
        Assert.Equal(ExitOutcome.Continue, ExitHandlers.GetQuote(vm, exit));
        Assert.Equal(TdVmcallStatus.Success, exit.Ret);
        var status = new byte[8];
        vm.Kvm.Host.Read(new Memory.Hva(host.Value + 8), status);
        Assert.Equal(0x8000_0000_0000_0001UL, BitConverter.ToUInt64(status));
    }

    [Fact]
    public void GetQuote_WithAQuoteService_HoldsTheBuffer_ThenCompletesItWithAQuoteThatVerifies()
    {
        var (vm, host, _) = ConversionVm(0x10_0000, 0x2000);
        byte[] mrtd = [.. Enumerable.Range(0, 48).Select(i => (byte)(0x30 + i))];
        byte[] reportData = [.. Enumerable.Range(0, 64).Select(i => (byte)(0xC0 ^ i))];
        var report = Firmware.Tdx.TdReport.Build(Firmware.Tdx.TdParams.Default, mrtd, [new byte[48], new byte[48], new byte[48], new byte[48]], reportData);
        WriteQuoteRequest(vm, host, report);

        var references = new HostReferences(vm);
        var exit = new KvmExit.TdxGetQuote(0x10_0000, 0x2000);
        Assert.Equal(ExitOutcome.Continue, ExitHandlers.GetQuote(vm, exit, references));
        Assert.Equal((TdVmcallStatus.Success, 1), (exit.Ret, references.Count));
        Assert.Equal(ExitHandlers.QuoteInFlight, ReadUInt64(vm, host, 8));

        Assert.Equal(1, references.Release(0x10_0000, 0x1000));
        Assert.Equal(0UL, ReadUInt64(vm, host, 8));
        uint length = (uint)(ReadUInt64(vm, host, 16) >> 32);
        var quoteBytes = new byte[length];
        vm.Kvm.Host.Read(new Memory.Hva(host.Value + 24), quoteBytes);
        var quote = Attestation.Tdx.TdxQuote.Parse(quoteBytes, "completed");
        var policy = new Attestation.EvidencePolicy(Measurements: new HashSet<string> { Convert.ToHexStringLower(mrtd) }, ReportData: reportData);
        var result = Attestation.Tdx.TdxQuoteVerifier.Verify(quote, Attestation.TestChain.TdxRoot, policy, "completed");
        Assert.True(result.Passed, result.FirstFailure?.ToString());
    }

    [Fact]
    public void GetQuote_ATdReportWithABadMac_CompletesWithQuoteError()
    {
        var (vm, host, _) = ConversionVm(0x10_0000, 0x2000);
        var report = Firmware.Tdx.TdReport.Build(Firmware.Tdx.TdParams.Default, new byte[48], [new byte[48], new byte[48], new byte[48], new byte[48]], new byte[64]);
        report[Firmware.Tdx.TdReport.TdInfo.Offset] ^= 1;
        WriteQuoteRequest(vm, host, report);

        var references = new HostReferences(vm);
        ExitHandlers.GetQuote(vm, new KvmExit.TdxGetQuote(0x10_0000, 0x2000), references);
        references.Release(0x10_0000, 0x2000);
        Assert.Equal((ExitHandlers.QuoteError, 0UL), (ReadUInt64(vm, host, 8), ReadUInt64(vm, host, 16) >> 32));
    }

    /// <summary>The GHCI GetQuote buffer: version 1, status, in_len, out_len, then the TDREPORT.</summary>
    private static void WriteQuoteRequest(VmFd vm, Memory.Hva host, byte[] report)
    {
        var header = new byte[24];
        BitConverter.GetBytes(1UL).CopyTo(header, 0);
        BitConverter.GetBytes((uint)report.Length).CopyTo(header, 16);
        vm.Kvm.Host.Write(host, header);
        vm.Kvm.Host.Write(new Memory.Hva(host.Value + 24), report);
    }

    private static ulong ReadUInt64(VmFd vm, Memory.Hva host, ulong offset)
    {
        var bytes = new byte[8];
        vm.Kvm.Host.Read(new Memory.Hva(host.Value + offset), bytes);
        return BitConverter.ToUInt64(bytes);
    }

    [Fact]
    public void GetQuote_OutsideMemoryOrTooSmall_InvalidOperand()
    {
        var (vm, _, _) = ConversionVm(0x10_0000, 0x1000);
        var outside = new KvmExit.TdxGetQuote(0x90_0000, 0x1000);
        var small = new KvmExit.TdxGetQuote(0x10_0000, 16);
        ExitHandlers.GetQuote(vm, outside);
        ExitHandlers.GetQuote(vm, small);
        Assert.Equal((TdVmcallStatus.InvalidOperand, TdVmcallStatus.InvalidOperand), (outside.Ret, small.Ret));
    }

    [Fact]
    public void SystemEvent_SevTermination_NamesTheRequest()
    {
        // GHCB MSR protocol termination (guest-abi.md §4): [15:12] reason set 0, [23:16] reason code 0x10.
        var outcome = ExitHandlers.SystemEvent(new KvmExit.SystemEvent(KvmExit.SystemEvent.SevTerm, [0x0000_0000_0010_0100]));
        Assert.Equal(new ExitOutcome.Stop("the SEV guest asked to terminate: reason set 0, code 16"), outcome);

        // A GHCB termination event's data is the GHCB's GPA: no reason to decode there.
        var ghcb = ExitHandlers.SystemEvent(new KvmExit.SystemEvent(KvmExit.SystemEvent.SevTerm, [0x40_0000]));
        Assert.Equal(new ExitOutcome.Stop("the guest asked to terminate (system event 6, data 0x400000)"), ghcb);
    }

    [Fact]
    public void MapGpaRange_OutsideGuestMemory_RetIsEinval_NotAFailure()
    {
        var (vm, _, _) = ConversionVm(0x10_0000, 0x1000);
        var exit = new KvmExit.Hypercall(12, [0x20_0000, 1, 0, 0, 0, 0], 1);
        Assert.Equal(ExitOutcome.Continue, ExitHandlers.MapGpaRange(vm, exit, ConversionMode.AttributesWithDiscard));
        Assert.Equal(KvmHypercallError.EInval, exit.Ret);
    }

    [Theory]
    [InlineData(true, "vcpu1 io out port=0xe9 size=1 data=41")]
    [InlineData(false, "vcpu1 io in port=0x3fd size=1")]
    public void Trace_OneLinePerExit(bool isOut, string line) =>
        Assert.Equal(line, ExitTrace.Line(1, new KvmExit.Io(isOut, 1, (ushort)(isOut ? 0xE9 : 0x3FD), 1, [0x41])));

    [Fact]
    public void Trace_ConversionExits()
    {
        Assert.Equal("vcpu0 hypercall nr=12 gpa=0x200000 pages=4 to=private", ExitTrace.Line(0, new KvmExit.Hypercall(12, [0x20_0000, 4, 0x10, 0, 0, 0], 1)));
        Assert.Equal("vcpu0 memory_fault gpa=0x300000 size=0x1000 shared (EFAULT)",
            ExitTrace.Line(0, new KvmExit.MemoryFault(Abi.Kvm.Errno.EFAULT, new MemoryFault(new Gpa(0x30_0000), 0x1000, 0))));
    }
}
