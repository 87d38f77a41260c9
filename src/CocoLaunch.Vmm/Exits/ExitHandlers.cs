using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;

namespace CocoLaunch.Vmm.Exits;

/// <summary>One small function per exit kind; each is a pure decision plus the KVM calls it implies.</summary>
public static class ExitHandlers
{
    /// <summary>KVM_HC_MAP_GPA_RANGE bit 4: the range becomes private (encrypted).</summary>
    public const ulong MapGpaRangeEncrypted = 0x10;

    /// <summary>
    /// An explicit conversion request (KVM_HC_MAP_GPA_RANGE, TDX MapGPA, SNP page-state change): convert, then
    /// answer the guest through hypercall.ret (0, or −EINVAL as a guest PV error).
    /// </summary>
    public static ExitOutcome MapGpaRange(VmFd vm, KvmExit.Hypercall exit, ConversionMode mode) => MapGpaRange(vm, exit, mode, null, null);

    /// <summary>As above, completing the VMM's own work on held pages first when the conversion meets them (EAGAIN).</summary>
    public static ExitOutcome MapGpaRange(VmFd vm, KvmExit.Hypercall exit, ConversionMode mode, HostReferences? references, Action<Gpa>? retried)
    {
        if (exit.Nr != KvmLimits.HcMapGpaRange)
        {
            return new ExitOutcome.Fail($"unexpected hypercall {exit.Nr}");
        }

        var gpa = new Gpa(exit.Args[0]);
        ulong size = exit.Args[1] * PageSize.Size4K;
        bool toPrivate = (exit.Args[2] & MapGpaRangeEncrypted) != 0;
        string? problem = MemoryConversion.Convert(vm, gpa, size, toPrivate, mode, references, out bool again);
        if (again)
        {
            retried?.Invoke(gpa);
        }

        exit.Ret = problem is null ? 0 : KvmHypercallError.EInval;
        return ExitOutcome.Continue;
    }

    /// <summary>
    /// An implicit conversion (KVM_EXIT_MEMORY_FAULT): make the page what the access expected, as
    /// cloud-hypervisor does. A fault that repeats at the same GPA after that is a guest error, not a loop.
    /// </summary>
    public static ExitOutcome MemoryFault(VmFd vm, KvmExit.MemoryFault exit, ConversionMode mode, ref Gpa? lastFault) =>
        MemoryFault(vm, exit, mode, ref lastFault, null, null);

    public static ExitOutcome MemoryFault(VmFd vm, KvmExit.MemoryFault exit, ConversionMode mode, ref Gpa? lastFault, HostReferences? references, Action<Gpa>? retried)
    {
        var info = exit.Info;
        if (info.Flags.HasFlag(KvmMemoryExitFlags.AbsentMapping))
        {
            return ExitOutcome.Continue; // handled by AbsentMapping below; kept for a single switch in the loop
        }

        if ((info.Flags & ~KvmMemoryExitFlags.Private) != 0)
        {
            return new ExitOutcome.Fail($"memory fault at {info.Gpa} with unknown flags 0x{(ulong)info.Flags:x}");
        }

        if (lastFault == info.Gpa)
        {
            return new ExitOutcome.Fail($"memory fault at {info.Gpa} repeated after conversion ({exit.Errno})");
        }

        lastFault = info.Gpa;
        string? problem = MemoryConversion.Convert(vm, info.Gpa, info.Size, info.IsPrivate, mode, references, out bool again);
        if (again)
        {
            retried?.Invoke(info.Gpa);
        }

        return problem is null ? ExitOutcome.Continue : new ExitOutcome.Fail(problem);
    }

    /// <summary>KVM_MEM_ABSENT_MAPPING_FAULT: the host page was missing; populate it (postcopy would fetch it) and retry.</summary>
    public static ExitOutcome AbsentMapping(VmFd vm, KvmExit.MemoryFault exit)
    {
        var gpa = exit.Info.Gpa.Value;
        var slot = vm.Memslots.FirstOrDefault(s => s.Contains(gpa / PageSize.Size4K));
        if (slot is null)
        {
            return new ExitOutcome.Fail($"absent-mapping fault at {exit.Info.Gpa} outside every memslot");
        }

        var hva = slot.HostAddress(gpa);
        vm.Kvm.Host.Populate(hva, exit.Info.Size);
        return ExitOutcome.Continue;
    }

    /// <summary>Port I/O to the debug devices; isa-debug-exit and ACPI power-off end the run.</summary>
    public static ExitOutcome PortIo(Boot.DebugDevices devices, KvmExit.Io io)
    {
        for (uint n = 0; n < io.Count; n++)
        {
            var chunk = io.Data.AsSpan((int)n * io.Size, io.Size);
            if (io.IsOut)
            {
                var value = new byte[4];
                chunk.CopyTo(value);
                devices.Out(io.Port, io.Size, BitConverter.ToUInt32(value));
            }
            else
            {
                BitConverter.GetBytes(devices.In(io.Port, io.Size)).AsSpan(0, io.Size).CopyTo(chunk);
            }
        }

        return devices.ExitStatus is int status ? new ExitOutcome.Stop($"isa-debug-exit: status {status}")
            : devices.PoweredOff ? new ExitOutcome.Stop("ACPI power-off")
            : ExitOutcome.Continue;
    }

    /// <summary>A guest-requested end: TDX ReportFatalError (with its message, as QEMU prints it) or SEV termination.</summary>
    public static ExitOutcome SystemEvent(KvmExit.SystemEvent e)
    {
        if (e.Type == KvmExit.SystemEvent.TdxFatal)
        {
            // The message: up to 64 bytes from R14, R15, RBX, RDI, RSI, R8, R9, RDX, each if its RCX bit is set.
            ulong exposed = e.Data[1];
            var bytes = new List<byte>();
            foreach (int r in new[] { 14, 15, 3, 7, 6, 8, 9, 2 })
            {
                if ((exposed & (1UL << r)) != 0)
                {
                    bytes.AddRange(BitConverter.GetBytes(e.Data[r]));
                }
            }

            string message = System.Text.Encoding.ASCII.GetString([.. bytes.TakeWhile(b => b != 0)]);
            return new ExitOutcome.Stop($"the TD reported a fatal error 0x{e.Data[12]:x}{(message.Length > 0 ? ": " + message : string.Empty)}");
        }

        // The GHCB MSR protocol's request carries its reason (guest-abi.md §4); a GHCB event's data is the GHCB's GPA.
        if (e.Type == KvmExit.SystemEvent.SevTerm && e.Data.Length > 0 && (e.Data[0] & 0xFFF) == 0x100)
        {
            return new ExitOutcome.Stop($"the SEV guest asked to terminate: reason set {(e.Data[0] >> 12) & 0xF}, code {(e.Data[0] >> 16) & 0xFF}");
        }

        return new ExitOutcome.Stop($"the guest asked to terminate (system event {e.Type}, data 0x{(e.Data.Length > 0 ? e.Data[0] : 0):x})");
    }

    public const ulong QuoteInFlight = 0xFFFF_FFFF_FFFF_FFFF, QgsUnavailable = 0x8000_0000_0000_0001, QuoteError = 0x8000_0000_0000_0000;

    /// <summary>
    /// The quote service's answer: the TDREPORT in the buffer (its MAC checked) quoted by the emulated quoting
    /// enclave, the same code as <c>cocolaunch attest</c>; the quote at offset 24 with out_len and status 0, or ERROR.
    /// </summary>
    private static byte[]? CompleteQuote(VmFd vm, Memory.Hva buffer, ulong size)
    {
        var header = new byte[24];
        vm.Kvm.Host.Read(buffer, header);
        uint inLength = BitConverter.ToUInt32(header, 16);
        byte[]? quote = null;
        if (inLength == Firmware.Tdx.TdReport.Size && size >= 24 + Firmware.Tdx.TdReport.Size)
        {
            var report = new byte[inLength];
            vm.Kvm.Host.Read(new Memory.Hva(buffer.Value + 24), report);
            quote = Firmware.Tdx.TdReport.Verify(report) ? Attestation.Tdx.EmulatedQuotingEnclave.Quote(report) : null;
        }

        if (quote is null || 24 + (ulong)quote.Length > size)
        {
            vm.Kvm.Host.Write(new Memory.Hva(buffer.Value + 8), BitConverter.GetBytes(QuoteError));
            return null;
        }

        vm.Kvm.Host.Write(new Memory.Hva(buffer.Value + 24), quote);
        vm.Kvm.Host.Write(new Memory.Hva(buffer.Value + 20), BitConverter.GetBytes((uint)quote.Length));
        vm.Kvm.Host.Write(new Memory.Hva(buffer.Value + 8), BitConverter.GetBytes(0UL));
        return quote;
    }

    /// <summary>
    /// GetQuote with no quote service: status QGS_UNAVAILABLE in the buffer header and SUCCESS, as QEMU answers.
    /// With <paramref name="references"/>, the request stays in flight (status IN_FLIGHT) with the buffer held, as a
    /// quote being made holds it, until the VMM finishes it with a quote (<paramref name="quoted"/> sees it): when the
    /// guest converts the buffer, when the quote service answers (<see cref="QuoteService"/>), or at the end.
    /// </summary>
    public static ExitOutcome GetQuote(VmFd vm, KvmExit.TdxGetQuote q, HostReferences? references = null, Action<byte[]>? quoted = null)
    {
        var slot = vm.Memslots.FirstOrDefault(s => s.Contains(q.Gpa / PageSize.Size4K));
        if (slot is null || q.Size < 24)
        {
            q.Ret = TdVmcallStatus.InvalidOperand;
            return ExitOutcome.Continue;
        }

        var status = new Memory.Hva(slot.HostAddress(q.Gpa).Value + 8);
        if (references is null)
        {
            vm.Kvm.Host.Write(status, BitConverter.GetBytes(QgsUnavailable));
        }
        else
        {
            vm.Kvm.Host.Write(status, BitConverter.GetBytes(QuoteInFlight));
            var buffer = new Memory.Hva(status.Value - 8);
            references.Take(q.Gpa, q.Size, () =>
            {
                if (CompleteQuote(vm, buffer, q.Size) is { } quote)
                {
                    quoted?.Invoke(quote);
                }
            });
        }

        q.Ret = TdVmcallStatus.Success;
        return ExitOutcome.Continue;
    }
}
