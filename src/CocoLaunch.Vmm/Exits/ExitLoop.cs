using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;
using CocoLaunch.Vmm.Boot;
using CocoLaunch.Vmm.Run;

namespace CocoLaunch.Vmm.Exits;

/// <summary>The VMM's one exit loop: KVM_RUN, dispatch the exit to its handler, repeat.</summary>
public sealed class ExitLoop(VmFd vm, ConversionMode conversion)
{
    /// <summary>Guards against a guest that never stops exiting.</summary>
    public int MaxExits { get; init; } = 1_000_000;

    /// <summary>Bytes an MMIO read returns when no device answers (open bus).</summary>
    public byte OpenBus { get; init; } = 0xFF;

    /// <summary>The port devices (debugcon, COM1, isa-debug-exit, ACPI power-off); without them port I/O is a failure.</summary>
    public DebugDevices? Devices { get; init; }

    /// <summary>A Linux guest's board (serial, IOAPIC, PIT, RTC, ACPI power): port I/O, MMIO and IOAPIC EOIs go to it.</summary>
    public IGuestBoard? Board { get; init; }

    /// <summary>One line per exit, when set (<c>launch --trace-exits</c>).</summary>
    public TextWriter? Trace { get; init; }

    /// <summary>Which exits <see cref="Trace"/> gets; all when null (<c>launch --trace-only</c>).</summary>
    public Func<KvmExit, bool>? TraceFilter { get; init; }

    public RunStats Stats { get; } = new();

    /// <summary>Pages the VMM holds while it works on them; conversions that meet them complete the work and retry.</summary>
    public HostReferences? References { get; init; }

    /// <summary>Answers GetQuote after a time, when set; without it a request stays in flight until the buffer is converted.</summary>
    public QuoteService? Quotes { get; init; }

    /// <summary>The stop reasons of a guest that ended itself: a halt nothing wakes, a triple fault.</summary>
    public const string StopHalted = "guest halted", StopShutdown = "guest shut down (triple fault, or the guest program ended)";

    public int ExitCount { get; private set; }

    /// <summary>The last exit the guest was resumed from, for the stop reason of a guest that died after it.</summary>
    public KvmExit? LastExit { get; private set; }

    public ExitOutcome Run(VcpuFd vcpu)
    {
        Gpa? lastFault = null;
        while (ExitCount < MaxExits)
        {
            KvmExit exit;
            ArmHostTimers(vcpu);
            try
            {
                exit = vcpu.Run();
            }
            catch (KvmException e)
            {
                return new ExitOutcome.Fail($"KVM_RUN failed with {e.Errno}: {e.Detail}");
            }

            ExitCount++;
            Stats.CountExit(exit.Reason);
            if (Trace is not null && (TraceFilter?.Invoke(exit) ?? true))
            {
                Trace.WriteLine(ExitTrace.Line(vcpu.Id, exit));
            }

            var outcome = exit switch
            {
                KvmExit.Hypercall h => Counted(ExitHandlers.MapGpaRange(vm, h, conversion, References, gpa => Retried(vcpu, gpa)), h),
                KvmExit.MemoryFault { Info.Flags: var f } m when f.HasFlag(KvmMemoryExitFlags.AbsentMapping) => ExitHandlers.AbsentMapping(vm, m),
                KvmExit.MemoryFault m when vm.Kvm.Host.Limit is { Refusals: > 0 } limit =>
                    new ExitOutcome.Fail($"{limit} reached: guest access to gpa {m.Info.Gpa} at RIP 0x{vcpu.Cpu?.State.Rip ?? 0:x} (KVM_RUN failed with {m.Errno})"),
                KvmExit.MemoryFault m => Counted(ExitHandlers.MemoryFault(vm, m, conversion, ref lastFault, References, gpa => Retried(vcpu, gpa)), m),
                KvmExit.Io io when Devices is not null && DebugDevices.IsDebugPort(io.Port) => ExitHandlers.PortIo(Devices, io),
                KvmExit.Io or KvmExit.Mmio or KvmExit.IoapicEoi when Board is not null => Board.Handle(exit) is { } stop ? new ExitOutcome.Stop(stop) : ExitOutcome.Continue,
                KvmExit.Mmio m => Mmio(m),
                KvmExit.Io io when Devices is not null => ExitHandlers.PortIo(Devices, io),
                KvmExit.SystemEvent e => ExitHandlers.SystemEvent(e),
                KvmExit.TdxGetQuote q when Quotes is not null => Quotes.Request(vcpu, q),
                KvmExit.TdxGetQuote q => ExitHandlers.GetQuote(vm, q, References),
                KvmExit.Hlt => new ExitOutcome.Stop(StopHalted),
                KvmExit.Shutdown => new ExitOutcome.Stop(StopShutdown),
                KvmExit.Intr when vcpu.Id == 0 && Board?.FireTimers() == true => ExitOutcome.Continue,
                KvmExit.Intr when Quotes?.AnswerDue(vcpu) == true => QuoteAnswered(vcpu),
                KvmExit.Intr => new ExitOutcome.Stop("instruction limit reached"),
                KvmExit.InternalError e => new ExitOutcome.Fail($"KVM internal error {e.Suberror}: {e.Detail}"),
                KvmExit.FailEntry f => new ExitOutcome.Fail($"vCPU {vcpu.Id} could not enter the guest (KVM_EXIT_FAIL_ENTRY, reason 0x{f.HardwareEntryFailureReason:x}): {f.Detail}"),
                _ => new ExitOutcome.Fail($"unhandled exit {exit.Reason}"),
            };

            if (exit is not KvmExit.MemoryFault)
            {
                lastFault = null;
            }

            if (outcome is not ExitOutcome.Resume)
            {
                return outcome;
            }

            LastExit = exit;
        }

        return new ExitOutcome.Fail($"the guest exited {MaxExits} times without stopping");
    }

    /// <summary>
    /// Sets the host timer of this vCPU's next KVM_RUN to the earliest of what the VMM waits for in guest time: the
    /// board's next timer (the BSP's only) and the quote requests in flight. Recomputed before every entry, so a
    /// timer the guest moved or stopped leaves no kick behind and neither user hides the other's; a kick for another
    /// reason (the run's end) finds nothing due and stops.
    /// </summary>
    private void ArmHostTimers(VcpuFd vcpu)
    {
        ulong? board = vcpu.Id == 0 ? Board?.NextTimerTsc : null;
        ulong? quote = Quotes?.NextDue(vcpu);
        if (Board is null && Quotes is null)
        {
            return; // no host timer of ours: leave the vCPU's as it is
        }

        vcpu.KickAtTsc = board is { } b && (quote is null || b < quote) ? b : quote;
    }

    private ExitOutcome QuoteAnswered(VcpuFd vcpu)
    {
        Trace?.WriteLine($"vcpu{vcpu.Id}   quote service answered GetQuote: {Quotes!.Quotes.Count} quote(s) made so far");
        return ExitOutcome.Continue;
    }

    private void Retried(VcpuFd vcpu, Gpa gpa)
    {
        Stats.ConversionRetries++;
        Trace?.WriteLine($"vcpu{vcpu.Id}   conversion at {gpa}: EAGAIN (the VMM held the page); finished its work there, converted again");
    }

    private ExitOutcome Counted(ExitOutcome outcome, KvmExit.Hypercall h)
    {
        if (outcome is ExitOutcome.Resume && h.Ret == 0)
        {
            Stats.CountConversion(explicitly: true, (h.Args[2] & ExitHandlers.MapGpaRangeEncrypted) != 0, h.Args[1]);
        }

        return outcome;
    }

    private ExitOutcome Counted(ExitOutcome outcome, KvmExit.MemoryFault m)
    {
        if (outcome is ExitOutcome.Resume)
        {
            Stats.CountConversion(explicitly: false, m.Info.IsPrivate, m.Info.Size / PageSize.Size4K);
        }

        return outcome;
    }

    private ExitOutcome Mmio(KvmExit.Mmio exit)
    {
        if (!exit.IsWrite)
        {
            Array.Fill(exit.Data, OpenBus);
        }

        return ExitOutcome.Continue;
    }
}
