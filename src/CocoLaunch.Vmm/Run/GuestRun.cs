using System.Diagnostics;
using CocoLaunch.Abi;
using CocoLaunch.Cpu;
using CocoLaunch.Kvm;
using CocoLaunch.Vmm.Boot;
using CocoLaunch.Vmm.Exits;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Run;

/// <summary>How to run a launched guest.</summary>
/// <param name="MaxInstructions">Per vCPU; the run stops (exit 1) when the BSP reaches it.</param>
/// <param name="Timeout">Wall-clock limit for the whole run.</param>
/// <param name="Trace">One line per exit, when set.</param>
/// <param name="Progress">Called about twice a second while the guest runs: instructions so far, time, the BSP's phase.</param>
public sealed record RunOptions(long MaxInstructions, TimeSpan? Timeout, ConversionMode Conversion, Stream Console, TextWriter? Trace = null,
    Action<RunProgress>? Progress = null)
{
    /// <summary>Which exits <see cref="Trace"/> gets; all when null.</summary>
    public Func<Kvm.KvmExit, bool>? TraceFilter { get; init; }

    /// <summary>What an SNP direct boot's fw_cfg serves instead of the measured initrd or command line, when set.</summary>
    public Snp.ServedBlobs? Served { get; init; }
}

/// <summary>How a run ended: the guest's exit status (isa-debug-exit, or 0 for ACPI power-off) or why it stopped.</summary>
public sealed record RunResult(int? ExitStatus, string Stop, bool Failed, RunStats Stats)
{
    /// <summary>The evidence the guest obtained from inside, in the order it was made.</summary>
    public IReadOnlyList<GuestEvidence> Evidence { get; init; } = [];
}

/// <summary>
/// Evidence a guest obtained from inside: a TD's quote (the quote service answered its GetQuote), or an SNP guest's
/// attestation report (the firmware answered its MSG_REPORT_REQ).
/// </summary>
public sealed record GuestEvidence(Attestation.EvidenceKind Kind, byte[] Bytes);

/// <summary>
/// After the launch recipe: every vCPU starts from its platform's reset state (TDX's initial state; the legacy
/// reset for a plain VM) on its own thread, each through the one exit loop; the run ends when the BSP's loop
/// does, or at the time limit.
/// </summary>
public static class GuestRun
{
    public static RunResult Run(LaunchContext context, RunOptions options)
    {
        var vm = context.RequireVm();
        var devices = new DebugDevices(options.Console, options.Console);
        long acceptedBefore = Accepted(vm);
        foreach (var vcpu in context.Vcpus)
        {
            Start(vm, vcpu, options.MaxInstructions);
        }

        var running = context.Vcpus.Where(v => v.Cpu is not null || v.Sev is { AwaitsApCreation: true }).ToList();
        var references = new HostReferences(vm);
        var quotes = new QuoteService(vm, references);
        // A TD firmware that carries Linux in its Payload section, and an SNP firmware given a kernel, get the Linux
        // board the ACPI tables describe; the SNP firmware reads its kernel from the board's fw_cfg.
        var linux = context.Ovmf?.Tdx.Value?.Sections.Any(s => s.Type == Formats.Tdvf.TdvfSectionType.Payload) == true || SnpLinux(context)
            ? new LinuxBoard(vm, options.Console, new TscClock(context.Vcpus[0]), DateTimeOffset.UtcNow)
            : null;
        if (linux is not null && SnpLinux(context))
        {
            linux.Ports.Register(Devices.FwCfg.SelectorPort, Devices.FwCfg.PortCount, Snp.SnpLinuxFwCfg.Build(context, new SharedGuestMemory(vm), options.Served));
        }

        // OVMF on a plain VM, as a TD or as an SNP guest gets QEMU's q35 devices (issue 20).
        bool q35 = !context.Spec.IsFirmwareless && context.Spec.Platform switch
        {
            KvmVmType.Default => true,
            KvmVmType.Tdx => context.Ovmf?.Tdx.Value is not null,
            KvmVmType.Snp => !SnpLinux(context),
            _ => false,
        };
        IGuestBoard? board = (IGuestBoard?)linux ?? (q35
            ? new Q35Board(vm, context, options.Console, new TscClock(context.Vcpus[0]), DateTimeOffset.UtcNow, [.. context.Layout.Where(s => !s.Firmware).Select(s => (s.Gpa.Value, s.Size))])
            : null);
        var loops = running.Select(_ => new ExitLoop(vm, options.Conversion) { Devices = devices, Board = board, Trace = options.Trace, TraceFilter = options.TraceFilter, MaxExits = int.MaxValue, References = references, Quotes = quotes }).ToList();
        var outcomes = new ExitOutcome?[loops.Count];
        var clock = Stopwatch.StartNew();
        var threads = running.Select((vcpu, i) => new Thread(() => outcomes[i] = loops[i].Run(vcpu)) { IsBackground = true, Name = $"vcpu{vcpu.Id}" }).ToList();
        threads.ForEach(t => t.Start());
        (ulong, ulong)? flash = context.Ovmf is null ? null : (context.Firmware.LoadAddress.Value, Gpa.FourGiB.Value);
        bool inTime = Wait(threads[0], options, clock, running, flash);
        foreach (var vcpu in running)
        {
            vcpu.Kick();
        }

        threads.ForEach(t => t.Join());
        clock.Stop();
        references.Release(0, ulong.MaxValue); // work still in flight ends with the guest

        var stats = loops[0].Stats;
        foreach (var other in loops.Skip(1))
        {
            foreach (var (reason, count) in other.Stats.Exits)
            {
                for (long n = 0; n < count; n++)
                {
                    stats.CountExit(Enum.Parse<Abi.Kvm.KvmExitReason>(reason));
                }
            }
        }

        stats.Instructions = context.Vcpus.Sum(v => v.Cpu?.InstructionsRetired ?? 0);
        stats.Elapsed = clock.Elapsed;
        stats.PagesAccepted = Accepted(vm) - acceptedBefore;
        stats.MappingStats = vm.Mmu.Stats.ToString();
        if (vm.Snp?.Rmp is { } rmp)
        {
            stats.PlatformStats = $"RMP since launch: 2M entries made {rmp.LargeEntriesCreated}, split by PSMASH {rmp.Psmashes}, left {rmp.LargeEntries}; 2M PVALIDATEs {rmp.Validated2M}";
        }

        var outcome = inTime ? outcomes[0] : new ExitOutcome.Stop($"timed out after {options.Timeout!.Value.TotalSeconds:0.###} s");
        int stopped = 0;
        int failed = Array.FindIndex(outcomes, 1, o => o is ExitOutcome.Fail);
        if (failed > 0 && outcome is not ExitOutcome.Fail)
        {
            (outcome, stopped) = (outcomes[failed]!, failed);
        }

        var result = outcome switch
        {
            ExitOutcome.Fail f => new RunResult(null, f.Problem, true, stats),
            _ when devices.ExitStatus is int status => new RunResult(status, "isa-debug-exit", false, stats),
            _ when devices.PoweredOff || board?.Stop == LinuxBoard.StopPoweredOff => new RunResult(0, "ACPI power-off", false, stats),
            ExitOutcome.Stop s => new RunResult(null, s.Reason, false, stats),
            _ => new RunResult(null, "stopped", false, stats),
        };
        if (result.ExitStatus is null && Died(outcome) && running[stopped].Cpu is { } cpu)
        {
            result = result with { Stop = $"{result.Stop} (vCPU {running[stopped].Id} at RIP 0x{cpu.State.Rip:x}{(loops[stopped].LastExit is { } last ? $", last exit: {ExitTrace.Describe(last)}" : string.Empty)})" };
        }

        if (context.Vcpus.Select(v => (v.Cpu as Cpu.X86Cpu)?.FirstUnemulated).FirstOrDefault(u => u is not null) is { } unemulated && result.ExitStatus is null)
        {
            result = result with { Stop = $"{result.Stop}; the guest met an instruction the emulator lacks, {unemulated.Form} at RIP 0x{unemulated.Rip:x}, and got #UD" };
        }

        return result with { Evidence = Evidence(vm, quotes) };
    }

    /// <summary>A guest that died (a failed exit, a halt with nothing to wake it, a triple fault), not one stopped by a limit.</summary>
    private static bool Died(ExitOutcome? outcome) =>
        outcome is ExitOutcome.Fail || outcome is ExitOutcome.Stop { Reason: ExitLoop.StopHalted or ExitLoop.StopShutdown };

    /// <summary>A TD's quotes, or an SNP guest's reports: one platform's, so their order is the order they were made.</summary>
    private static List<GuestEvidence> Evidence(VmFd vm, QuoteService quotes) =>
    [
        .. quotes.Quotes.Select(q => new GuestEvidence(Attestation.EvidenceKind.TdxQuote, q)),
        .. (vm.Snp?.GuestReports ?? []).Select(r => new GuestEvidence(Attestation.EvidenceKind.SnpReport, r)),
    ];

    /// <summary>Waits for the BSP until the time limit, reporting progress on the way; false when the limit came first.</summary>
    private static bool Wait(Thread bsp, RunOptions options, Stopwatch clock, List<VcpuFd> running, (ulong, ulong)? flash)
    {
        var slice = TimeSpan.FromMilliseconds(500);
        var lastReport = TimeSpan.Zero;
        while (true)
        {
            var left = options.Timeout is { } limit ? limit - clock.Elapsed : Timeout.InfiniteTimeSpan;
            if (options.Timeout is not null && left <= TimeSpan.Zero)
            {
                return !bsp.IsAlive;
            }

            if (bsp.Join(options.Progress is null ? left : options.Timeout is null || left > slice ? slice : left))
            {
                return true;
            }

            if (clock.Elapsed - lastReport >= slice)
            {
                lastReport = clock.Elapsed;
                string phase = running[0].Cpu is { } cpu ? GuestPhase.Of(cpu.State, flash) : "running";
                options.Progress?.Invoke(new RunProgress(running.Sum(v => v.Cpu?.InstructionsRetired ?? 0), clock.Elapsed, phase));
            }
        }
    }

    /// <summary>
    /// An SNP launch with a measured direct-boot kernel: its firmware (the Linux SNP firmware, or an AmdSev-style
    /// OVMF) boots Linux from the Linux board's fw_cfg. With kernel-hashes off, OVMF gets the q35 board instead.
    /// </summary>
    public static bool SnpLinux(LaunchContext context) => context.Spec.Platform == KvmVmType.Snp && context.Spec.MeasuredDirectBoot is not null;

    /// <summary>Private pages the guest made usable: TDX accepts, SNP validations.</summary>
    private static long Accepted(VmFd vm) => vm.Td?.AcceptedPages ?? vm.Snp?.Rmp.ValidatedByGuest ?? 0;

    /// <summary>KVM_SET_REGS/SREGS and KVM_SET_CPUID2 for the platform's reset state.</summary>
    private static void Start(VmFd vm, VcpuFd vcpu, long maxInstructions)
    {
        switch (vcpu.Backend)
        {
            case TdxVcpuBackend td:
                // The TDX module's initial state: RCX/R8 = the TD HOB (from KVM_TDX_INIT_VCPU), RSI = vCPU index.
                vcpu.SetCpu(CpuState.TdxReset(td.InitialRcx ?? 0, vcpu.Id, TdxCpuSignature, gpaw52: vm.SharedGpaBit == 51), CpuVendor.Intel);
                break;
            case DefaultVcpuBackend when vcpu.Id > 0:
                // A plain VM's APs wait for the BSP's INIT-SIPI-SIPI, which the emulated local APIC does not deliver
                // yet; started at the reset vector beside the BSP they would run the firmware twice.
                throw new LaunchException($"vcpus: a plain VM with firmware runs one vCPU for now (its APs wait for INIT-SIPI-SIPI, which is not emulated yet); set vcpus: 1");
            case DefaultVcpuBackend:
                vcpu.SetCpu(CpuState.LegacyReset(), CpuVendor.Amd);
                break;
            case SevVcpuBackend sev when vm.Type == KvmVmType.Snp && vcpu.Id == 0:
                // The BSP runs from the VMSA LAUNCH_FINISH measured (snp-launch-digest.md §5); KVM preloads the GHCB MSR.
                sev.StartFromLaunchVmsa();
                break;
            case SevVcpuBackend sev when vm.Type == KvmVmType.Snp:
                sev.HoldForApCreation(); // until the guest's AP creation names a VMSA; a kick at the end returns −EINTR
                break;
            default:
                throw new LaunchException($"running a {vm.Type.Name()} guest is not supported yet");
        }

        // A TD runs on an Intel CPU: the kvm-intel table (vendor, TSC leaf 0x15), under the module's own CPUID virtualization.
        // An SNP vCPU answers from the table the launch wrote into its CPUID page.
        var cpuid = vcpu.Backend switch { TdxVcpuBackend => VcpuType.KvmIntel, SevVcpuBackend when vm.Type == KvmVmType.Snp => VcpuType.EpycSnp, _ => VcpuType.Qemu64 };
        vcpu.SetCpuid2(CpuidModel.Entries(cpuid, vcpu.Id));
        vcpu.InstructionBudget = maxInstructions;
    }

    /// <summary>CPUID.1:EAX the TD's vCPUs report at reset (EDX): family 6, model 0x8F, stepping 8 (Sapphire Rapids).</summary>
    public const uint TdxCpuSignature = 0x0008_06F8;
}
