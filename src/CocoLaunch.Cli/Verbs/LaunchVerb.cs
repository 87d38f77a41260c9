using CocoLaunch.Spec;
using CocoLaunch.Vmm.Launch;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("launch", HelpText = "Launch a spec on the KVM model (VM, vCPUs, memslots, attributes, measured launch, pre-fault), then boot it on the emulated CPU.")]
public sealed class LaunchOptions : CommonOptions
{
    [Value(0, MetaName = "SPEC", Required = true, HelpText = "The launch spec (YAML).")]
    public string Spec { get; set; } = string.Empty;

    [Option("stop-after", ResourceType = typeof(StopAfterHelp), HelpText = nameof(StopAfterHelp.Text))]
    public string? StopAfter { get; set; }

    [Option("dump-stage2", HelpText = "Print the stage-2 statistics (pages_4k, pages_2m, pages_1g) and every mapped range.")]
    public bool DumpStage2 { get; set; }

    [Option("max-instructions", Default = "10000000000", HelpText = "Stop (exit 1) after this many instructions on the BSP.")]
    public string MaxInstructions { get; set; } = "10000000000";

    [Option("timeout", Default = "120", HelpText = "Stop (exit 1) after this many seconds of running (at most 86400).")]
    public string Timeout { get; set; } = "120";

    [Option("trace-exits", HelpText = "Print one line per KVM exit on stderr.")]
    public bool TraceExits { get; set; }

    [Option("trace-only", HelpText = "With --trace-exits: print only these exits, a comma-separated list of io, mmio, hypercall, memory_fault, system_event, hlt, shutdown, intr, tdx, ioapic_eoi, fail_entry, internal_error; io:PORT and mmio:GPA keep one port or one page (e.g. io:0x510,hypercall).")]
    public string? TraceOnly { get; set; }

    [Option("stats", HelpText = "Print instructions, exits by reason, conversions, pages accepted and mapping statistics on stderr.")]
    public bool Stats { get; set; }

    [Option("conversion", Default = "in-place", HelpText = "How conversions are made: in-place (guest_memfd KVM_GMEM_CONVERT_*: one set of pages, EAGAIN while the VMM holds one), attributes-discard (QEMU's: attributes, then the other side discarded) or attributes.")]
    public string Conversion { get; set; } = "in-place";

    [Option("evidence-out", HelpText = "Write the evidence the guest obtained from inside to this file: a TD's last quote (TDVMCALL GetQuote), with its TEST root as FILE.root.pem; an SNP guest's last attestation report (SNP_GUEST_REQUEST), with the TEST VCEK chain as vcek.pem, ask.pem and ark.pem beside it. Exit 1 when it obtained none.")]
    public string? EvidenceOut { get; set; }

    [Option("serve-kernel", HelpText = "SNP direct boot: after measuring the spec's kernel, serve this file through fw_cfg instead, as a VMM that swaps what the firmware reads would (the firmware must refuse it).")]
    public string? ServeKernel { get; set; }

    [Option("serve-initrd", HelpText = "SNP direct boot: after measuring the spec's initrd, serve this file through fw_cfg instead, as a VMM that swaps what the firmware reads would (the firmware must refuse it).")]
    public string? ServeInitrd { get; set; }

    [Option("serve-cmdline", HelpText = "SNP direct boot: after measuring the spec's command line, serve this one through fw_cfg instead (the firmware must refuse it).")]
    public string? ServeCmdline { get; set; }

    [Option("max-host-memory", HelpText = "Stop (exit 1) when the guest's pages would take more host memory than this (e.g. 512M; default: twice the guest's memory and 64M).")]
    public string? MaxHostMemory { get; set; }
}

internal static class LaunchVerb
{
    public static int Run(LaunchOptions o, TextWriter stdout, TextWriter stderr)
    {
        var spec = LaunchSpecParser.Load(o.Spec);
        if (spec.IsFirmwareless)
        {
            return LaunchKernel(o, spec, stdout, stderr);
        }

        if (spec.Snp?.Svsm is not null && o.StopAfter is null)
        {
            throw new CliInputException($"{o.Spec}: booting an SVSM (snp.svsm) is not emulated; measure, reference-values and verify work on this spec, and launch --stop-after runs its steps");
        }

        var conversion = o.Conversion switch
        {
            "in-place" => Vmm.Exits.ConversionMode.InPlace,
            "attributes-discard" => Vmm.Exits.ConversionMode.AttributesWithDiscard,
            "attributes" => Vmm.Exits.ConversionMode.Attributes,
            _ => throw new CliInputException($"--conversion: '{o.Conversion}' is not one of: in-place, attributes-discard, attributes"),
        };

        LaunchContext context;
        try
        {
            // The memslots must be the guest_memfd's own mmap for in-place conversion: decided before the recipe runs.
            context = LaunchRecipe.Run(Prepare(o, spec, inPlace: conversion == Vmm.Exits.ConversionMode.InPlace && o.StopAfter is null), o.StopAfter);
        }
        catch (LaunchException e)
        {
            throw new CliInputException($"{o.Spec}: {e.Message}");
        }
        catch (Memory.HostMemoryLimitException e)
        {
            CliApp.Error(stderr, $"{o.Spec}: the launch stopped: {e.Message}");
            return ExitCode.CheckFailed;
        }

        var vm = context.Vm;
        if (o.StopAfter is not null)
        {
            foreach (var slot in context.Layout)
            {
                stdout.WriteLine($"memslot {slot.Slot}: [{slot.Gpa},0x{slot.End:x}) {(slot.Private ? "private" : "shared")}{(slot.Firmware ? " firmware" : string.Empty)}");
            }

            if (o.DumpStage2 && vm is not null)
            {
                stdout.Write(vm.Mmu.DumpText());
            }

            return ExitCode.Ok;
        }

        return Boot(o, context, conversion, stdout, stderr);
    }

    /// <summary>The launch before its first step: the flash firmware with its metadata, or the IGVM file's directives.</summary>
    private static LaunchContext Prepare(LaunchOptions o, LaunchSpec spec, bool inPlace)
    {
        if (!spec.Firmware.IsIgvm)
        {
            var (image, ovmf) = ValidateVerb.LoadFirmware(spec);
            return new LaunchContext(spec, image, ovmf) { InPlaceConversion = inPlace, HostMemoryLimit = MaxHostMemory(o) };
        }

        var context = IgvmFirmware.Context(spec, inPlace, MaxHostMemory(o));
        if (o.StopAfter is null)
        {
            IgvmFirmware.RequireTdHob(context);
        }

        return context;
    }

    /// <summary>A spec that boots its kernel without firmware: no measured launch, straight to the boot protocol.</summary>
    private static int LaunchKernel(LaunchOptions o, LaunchSpec spec, TextWriter stdout, TextWriter stderr)
    {
        if (o.StopAfter is not null || o.DumpStage2 || o.TraceExits || o.EvidenceOut is not null)
        {
            throw new CliInputException($"{o.Spec}: --stop-after, --dump-stage2, --trace-exits and --evidence-out follow a measured launch; this spec boots its kernel without firmware");
        }

        var boot = spec.DirectBoot!;
        var request = new KernelBootRequest(boot.KernelPath, boot.InitrdPath, boot.Cmdline ?? string.Empty, spec.Memory.Size,
            KernelBoot.VcpuTypeOf(spec.VcpuType), MaxInstructions(o), CliArguments.Seconds(o.Timeout, "--timeout"), o.Stats);
        using var console = ReferenceEquals(stdout, Console.Out) ? Console.OpenStandardOutput() : new TextWriterStream(stdout);
        return KernelBoot.Run(request, console, stderr);
    }

    private static Func<Kvm.KvmExit, bool>? TraceFilter(LaunchOptions o)
    {
        if (o.TraceOnly is null)
        {
            return null;
        }

        if (!o.TraceExits)
        {
            throw new CliInputException("--trace-only: it chooses what --trace-exits prints; give --trace-exits too");
        }

        try
        {
            return Vmm.Exits.ExitTraceFilter.Parse(o.TraceOnly);
        }
        catch (FormatException e)
        {
            throw new CliInputException($"--trace-only: {e.Message}");
        }
    }

    /// <summary>The one progress line, rewritten in place on a terminal.</summary>
    internal static string ProgressLine(Vmm.Run.RunProgress p) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"\r\u001b[K{CliApp.Name}: running: {p.Instructions / 1e6:0.0} M instructions, {p.Elapsed.TotalSeconds:0.0} s, {p.Mips:0} MIPS, {p.Phase}");

    private static ulong? MaxHostMemory(LaunchOptions o) =>
        o.MaxHostMemory is not { } text ? null
        : SizeParser.TryParse(text, out ulong bytes, out _) && bytes >= PageSize4K && bytes % PageSize4K == 0 ? bytes
        : throw new CliInputException($"--max-host-memory: '{text}' is not a size of whole 4 KiB pages (e.g. 512M)");

    private const ulong PageSize4K = 4096;

    private static long MaxInstructions(LaunchOptions o)
    {
        ulong max = CliArguments.Number(o.MaxInstructions, "--max-instructions");
        return max is 0 or > long.MaxValue
            ? throw new CliInputException($"--max-instructions: {o.MaxInstructions} is out of range (1..{long.MaxValue})")
            : (long)max;
    }

    /// <summary>The guest run: stdout is its console, the exit status that of <c>boot</c> (isa-debug-exit, 0 for ACPI power-off, else 1).</summary>
    private static int Boot(LaunchOptions o, LaunchContext context, Vmm.Exits.ConversionMode conversion, TextWriter stdout, TextWriter stderr)
    {
        if ((o.ServeKernel ?? o.ServeInitrd ?? o.ServeCmdline) is not null && !Vmm.Run.GuestRun.SnpLinux(context))
        {
            throw new CliInputException($"{o.Spec}: --serve-kernel, --serve-initrd and --serve-cmdline replace what an SNP guest's firmware reads through fw_cfg and checks against its measured hashes; this spec is not an SNP spec with a measured kernel");
        }

        long max = MaxInstructions(o);
        TimeSpan? timeout = CliArguments.Seconds(o.Timeout, "--timeout");

        Vmm.Run.RunResult result;
        using (var console = ReferenceEquals(stdout, Console.Out) ? Console.OpenStandardOutput() : new TextWriterStream(stdout))
        {
            try
            {
                // A progress line on an interactive terminal only: never in a pipe, a log or a test.
                Action<Vmm.Run.RunProgress>? progress = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected && !o.TraceExits
                    ? p => stderr.Write(ProgressLine(p))
                    : null;
                result = Vmm.Run.GuestRun.Run(context, new Vmm.Run.RunOptions(max, timeout, conversion, console, o.TraceExits ? stderr : null, progress)
                {
                    TraceFilter = TraceFilter(o),
                    Served = o.ServeKernel is null && o.ServeInitrd is null && o.ServeCmdline is null ? null : new Vmm.Snp.ServedBlobs(o.ServeInitrd, o.ServeCmdline) { KernelPath = o.ServeKernel },
                });
                if (progress is not null)
                {
                    stderr.Write("\r\u001b[K"); // clear the progress line
                }
            }
            catch (LaunchException e)
            {
                throw new CliInputException($"{o.Spec}: {e.Message}");
            }

            console.Flush();
        }

        if (o.Stats)
        {
            stderr.Write(result.Stats.ToString());
            stderr.WriteLine();
        }

        // The evidence is written even from a guest that then stopped badly; its absence is the error only when the
        // guest itself ended well, since a stop is the first thing to say.
        var evidence = o.EvidenceOut is null ? null : result.Evidence.LastOrDefault();
        if (evidence is not null)
        {
            stderr.WriteLine($"{CliApp.Name}: {EvidenceOut.Write(evidence, o.EvidenceOut!)}");
        }

        if (result.ExitStatus is not int status)
        {
            CliApp.Error(stderr, $"{o.Spec}: the guest stopped without isa-debug-exit or power-off: {result.Stop}");
            return ExitCode.CheckFailed;
        }

        if (o.EvidenceOut is not null && evidence is null && status == ExitCode.Ok)
        {
            CliApp.Error(stderr, $"{o.Spec}: --evidence-out: the guest obtained no evidence (a TD: no GetQuote the quote service answered; an SNP guest: no MSG_REPORT_REQ the firmware answered)");
            return ExitCode.CheckFailed;
        }

        return status;
    }
}
