using System.Text.Json;
using CocoLaunch.Abi;
using CocoLaunch.Cli.Reports;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Launch;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("measure", HelpText = "Launch a spec on the emulated TDX module or SNP firmware and print the launch digest (MRTD, or the SNP MEASUREMENT).")]
public sealed class MeasureOptions : CommonOptions
{
    [Value(0, MetaName = "SPEC", Required = false, HelpText = "The launch spec (YAML), or an IGVM file with --platform snp|tdx; or give --platform and --firmware instead. Several specs are measured in parallel and printed in the order given, each line prefixed with its spec (json: one line per spec); the exit code is the worst.")]
    public IEnumerable<string> Specs { get; set; } = [];

    /// <summary>The one spec this run measures (of <see cref="Specs"/>), or null for the flag forms.</summary>
    public string? Spec { get; set; }

    /// <summary>A copy for one of several specs: each runs on its own thread, so none writes to a shared one.</summary>
    internal MeasureOptions For(string spec)
    {
        var copy = (MeasureOptions)MemberwiseClone();
        copy.Spec = spec;
        return copy;
    }

    [Option("platform", HelpText = "Without a spec: the platform (tdx).")]
    public string? Platform { get; set; }

    [Option("firmware", HelpText = "Without a spec: the firmware image.")]
    public string? Firmware { get; set; }

    [Option("vars", HelpText = "Without a spec: a separate vars file mapped before the firmware.")]
    public string? Vars { get; set; }

    [Option("profile", HelpText = "Without a spec: upstream (single-pass, default) or two-pass. For an IGVM file on snp: igvm (zero pages as NORMAL zeros, default) or igvm-native-zero.")]
    public string? Profile { get; set; }

    [Option("format", HelpText = "hex (the digest alone, the default), base64, or json.")]
    public string? Format { get; set; }

    // sev-snp-measure's name for the same option: a pipeline switches to cocolaunch by changing only the program name.
    [Option("output-format", HelpText = "sev-snp-measure's name for --format (hex, base64 or json).")]
    public string? SevSnpMeasureOutputFormat { get; set; }

    /// <summary>The format asked for, by either name (hex when neither is given).</summary>
    internal string OutputFormat => Format ?? SevSnpMeasureOutputFormat ?? "hex";

    [Option("tdreport", HelpText = "Also write the 1024-byte TDREPORT (TDG.MR.REPORT) to this file; its MAC uses an emulator key, not hardware.")]
    public string? TdReport { get; set; }

    [Option("event-log", HelpText = "TDX: also write the CC event log (CCEL) the firmware will write, where the launch decides it (our Linux TD firmware).")]
    public string? EventLog { get; set; }

    [Option("report-data", HelpText = "REPORTDATA for --tdreport: 64 bytes as 128 hex digits (default zeros).")]
    public string? ReportData { get; set; }

    [Option("snp-ovmf-hash", HelpText = "sev-snp-measure form: the firmware pages' digest from --mode snp:ovmf-hash (96 hex digits), used instead of measuring them.")]
    public string? SnpOvmfHash { get; set; }

    [Option("mode", HelpText = "sev-snp-measure form: snp, seves, sev, snp:svsm (an SVSM below OVMF), or snp:ovmf-hash (the digest of the firmware pages alone).")]
    public string? Mode { get; set; }

    [Option("ovmf", HelpText = "sev-snp-measure form: the OVMF image.")]
    public string? Ovmf { get; set; }

    [Option("svsm", HelpText = "sev-snp-measure form, snp:svsm: the SVSM image (COCONUT-SVSM).")]
    public string? Svsm { get; set; }

    [Option("vars-size", HelpText = "sev-snp-measure form, snp:svsm: the size of OVMF's variable store, below which the SVSM ends (any base).")]
    public string? VarsSize { get; set; }

    [Option("vars-file", HelpText = "sev-snp-measure form, snp:svsm: OVMF's variable store file, whose size is used as --vars-size.")]
    public string? VarsFile { get; set; }

    [Option("vcpus", HelpText = "sev-snp-measure form: the number of vCPUs.")]
    public int? Vcpus { get; set; }

    [Option("vcpu-type", HelpText = "sev-snp-measure form: the QEMU CPU model (EPYC-v4, EPYC-Milan, …).")]
    public string? VcpuType { get; set; }

    [Option("vcpu-sig", HelpText = "sev-snp-measure form: the CPUID signature (any base, e.g. 0x800f12).")]
    public string? VcpuSig { get; set; }

    [Option("vcpu-family", HelpText = "sev-snp-measure form: CPU family (with --vcpu-model and --vcpu-stepping).")]
    public int? VcpuFamily { get; set; }

    [Option("vcpu-model", HelpText = "sev-snp-measure form: CPU model.")]
    public int? VcpuModel { get; set; }

    [Option("vcpu-stepping", HelpText = "sev-snp-measure form: CPU stepping.")]
    public int? VcpuStepping { get; set; }

    [Option("vmm-type", HelpText = "sev-snp-measure form: QEMU (default), ec2 or gce.")]
    public string? VmmType { get; set; }

    [Option("guest-features", HelpText = "sev-snp-measure form: SEV_FEATURES (any base; default 0x1).")]
    public string? GuestFeatures { get; set; }

    [Option("kernel", HelpText = "sev-snp-measure form: a kernel for measured direct boot.")]
    public string? Kernel { get; set; }

    [Option("initrd", HelpText = "sev-snp-measure form: an initrd (needs --kernel).")]
    public string? Initrd { get; set; }

    [Option("append", HelpText = "sev-snp-measure form: the kernel command line (needs --kernel).")]
    public string? Append { get; set; }

    [Option("dump-vmsa", HelpText = "sev-snp-measure form: also write each vCPU's VMSA to vmsa<i>.bin in the current directory.")]
    public bool DumpVmsa { get; set; }

    [Option("explain", HelpText = "Print every measured operation, one line each, in order (diff two of these to find a divergence).")]
    public bool Explain { get; set; }
}

internal static class MeasureVerb
{
    public static int Run(MeasureOptions o, TextWriter stdout, TextWriter stderr)
    {
        var specs = o.Specs.ToList();
        if (specs.Count <= 1)
        {
            o.Spec = specs.FirstOrDefault();
            return RunOne(o, stdout);
        }

        if (o.TdReport is not null || o.EventLog is not null || o.DumpVmsa)
        {
            throw new CliInputException("--tdreport, --event-log and --dump-vmsa write one spec's files: give one spec with them");
        }

        return SpecBatch.Run(specs, o.OutputFormat == "json", o.Verbose, stdout, stderr, (spec, writer) => RunOne(o.For(spec), writer));
    }

    private static int RunOne(MeasureOptions o, TextWriter stdout)
    {
        if (o.Format is not null && o.SevSnpMeasureOutputFormat is not null && o.Format != o.SevSnpMeasureOutputFormat)
        {
            throw new CliInputException($"--format {o.Format} and --output-format {o.SevSnpMeasureOutputFormat} disagree (they are one option under two names)");
        }

        if (o.OutputFormat is not ("hex" or "base64" or "json"))
        {
            throw new CliInputException($"{(o.Format is null ? "--output-format" : "--format")}: '{o.OutputFormat}' is not one of: hex, base64, json");
        }

        if (o.Spec is not null && !InspectVerb.IsSpec(o.Spec) && InspectVerb.StartsWithIgvmMagic(o.Spec))
        {
            return MeasureIgvm.Run(o, stdout);
        }

        var spec = o.Spec is not null ? FromFile(o) : o.Mode is not null || o.Ovmf is not null ? SevSnpMeasureFlags.ToSpec(o) : FromFlags(o);

        byte[] reportData = ParseReportData(o.ReportData);
        bool firmwareOnly = o.Mode == SevSnpMeasureFlags.OvmfHashMode;
        var context = Launch(spec, o.Spec ?? o.Firmware ?? "--ovmf", firmwareOnly ? LaunchRecipe.SnpFirmwareStep : null);
        byte[] mrtd = firmwareOnly ? context.RequireVm().Snp!.LaunchDigest : context.Mrtd ?? context.LaunchDigest!;
        if (o.DumpVmsa)
        {
            DumpVmsas(context);
        }

        if (o.TdReport is not null && spec.Platform != KvmVmType.Tdx)
        {
            throw new CliInputException("--tdreport: a TDREPORT exists only for platform tdx");
        }

        if (o.TdReport is not null)
        {
            try
            {
                File.WriteAllBytes(o.TdReport, context.RequireVm().Td!.Report(reportData));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliInputException($"--tdreport: cannot write '{o.TdReport}': {e.Message}");
            }
        }
        if (o.EventLog is { } logPath)
        {
            WriteEventLog(context, logPath);
        }

        if (o.Explain)
        {
            foreach (var op in context.Log.Operations)
            {
                stdout.WriteLine(op.ToLine());
            }

            ExplainRtmrEvents(context, stdout);
        }

        switch (o.OutputFormat)
        {
            case "hex":
                stdout.WriteLine(Convert.ToHexStringLower(mrtd));
                break;
            case "base64":
                stdout.WriteLine(Convert.ToBase64String(mrtd));
                break;
            case "json" when spec.Platform != KvmVmType.Tdx:
                WriteSnpJson(context, mrtd, stdout);
                break;
            default:
                WriteJson(context, mrtd, stdout);
                break;
        }

        return ExitCode.Ok;
    }

    /// <summary>The predicted RTMR events, one line each: number (from 1, as diff and verify count), register, type, digest, and what the digest depends on.</summary>
    private static void ExplainRtmrEvents(LaunchContext context, TextWriter stdout)
    {
        if (context.TdvfBootEvents is not { } events)
        {
            return;
        }

        stdout.WriteLine($"RTMR events the firmware will log ({events.Count}):");
        for (int i = 0; i < events.Count; i++)
        {
            var (e, dependsOn) = (events[i].Event, events[i].DependsOn);
            stdout.WriteLine($"{i + 1,8} RTMR{e.MrIndex - 1} {Formats.Tcg.TcgEventType.Name(e.Type),-34} {Convert.ToHexStringLower(e.Sha384)}  {dependsOn}");
        }
    }

    private static void DumpVmsas(LaunchContext context)
    {
        for (int i = 0; i < context.Vcpus.Count; i++)
        {
            if (context.Vcpus[i].SevEsSaveArea is not { } vmsa)
            {
                throw new CliInputException("--dump-vmsa: this platform has no VMSAs (SEV-ES and SNP do)");
            }

            try
            {
                File.WriteAllBytes($"vmsa{i}.bin", vmsa);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliInputException($"--dump-vmsa: cannot write vmsa{i}.bin: {e.Message}");
            }
        }
    }

    private static byte[] ParseReportData(string? hex)
    {
        if (hex is null)
        {
            return new byte[Firmware.Tdx.TdReport.ReportDataSize];
        }

        string digits = hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? hex[2..] : hex;
        return CliArguments.HexBytes(hex, Firmware.Tdx.TdReport.ReportDataSize)
            ?? throw new CliInputException($"--report-data: expected 64 bytes as 128 hex digits, got {digits.Length} characters");
    }

    /// <summary>Runs a TDX launch up to TDH.MR.FINALIZE; <paramref name="label"/> names the input in errors.</summary>
    /// <param name="recordContent">Fingerprint every measured operation's input (reference values and verify).</param>
    /// <param name="loaded">Where to record every range the launch loads, with its bytes (igvm build).</param>
    internal static LaunchContext Launch(LaunchSpec spec, string label, string? stopAfter = null, bool recordContent = false, LoadedPages? loaded = null)
    {
        string last = stopAfter ?? spec.Platform switch
        {
            KvmVmType.Tdx => "tdx-finalize",
            KvmVmType.Snp => "snp-launch-finish",
            KvmVmType.Sev or KvmVmType.SevEs => "sev-launch-measure",
            _ => throw new CliInputException($"{label}: platform {spec.Platform.Name()} has no launch measurement"),
        };

        if (spec.Firmware.IsIgvm && loaded is not null)
        {
            throw new CliInputException($"{label}: the firmware is already an IGVM file ({spec.Firmware.Path})");
        }

        var (image, ovmf) = spec.Firmware.IsIgvm ? default : ValidateVerb.LoadFirmware(spec);
        try
        {
            // An IGVM firmware's directives are the launch: the IGVM recipe, in the spec's memory.
            var context = spec.Firmware.IsIgvm ? IgvmFirmware.Context(spec) : new LaunchContext(spec, image, ovmf) { Loaded = loaded };
            context.Log.RecordContent = recordContent;
            var launched = LaunchRecipe.Run(context, last);
            _ = launched.TdvfBootEvents; // its inputs' errors belong to the launch's
            return launched;
        }
        catch (LaunchException e)
        {
            throw new CliInputException($"{label}: {e.Message}");
        }
    }

    private static LaunchSpec FromFile(MeasureOptions o)
    {
        if (o.Platform is not null || o.Firmware is not null || o.Vars is not null || o.Profile is not null || o.Mode is not null || o.Ovmf is not null)
        {
            throw new CliInputException("--platform/--firmware or --mode/--ovmf describe a launch without a spec; give either a spec or those options");
        }

        return LaunchSpecParser.Load(o.Spec!);
    }

    /// <summary>The flag form: a TDX launch of one firmware with QEMU's defaults and 2 GiB of RAM (MRTD does not depend on RAM size).</summary>
    private static LaunchSpec FromFlags(MeasureOptions o)
    {
        if (o.Platform is null || o.Firmware is null)
        {
            throw new CliInputException("measure needs a SPEC, or --platform and --firmware");
        }

        if (!LaunchSpecParser.Platforms.TryGetValue(o.Platform, out var platform))
        {
            throw new CliInputException($"--platform: '{o.Platform}' is not one of: {string.Join(", ", LaunchSpecParser.Platforms.Keys)}");
        }

        // An SNP or SEV digest depends on the vCPU type and count, which this form has no options for.
        string? mode = platform switch { KvmVmType.Snp => "snp", KvmVmType.SevEs => "seves", KvmVmType.Sev => "sev", _ => null };
        if (platform != KvmVmType.Tdx)
        {
            throw new CliInputException(mode is null
                ? $"--platform {o.Platform}: platform {o.Platform} has no launch measurement"
                : $"--platform {o.Platform}: the --platform/--firmware form measures tdx only; for {o.Platform} use --mode {mode} --ovmf FILE --vcpu-type TYPE (sev-snp-measure's options) or a spec");
        }

        var order = o.Profile switch
        {
            null or "upstream" or "single-pass" => TdxPageOrder.SinglePass,
            "two-pass" => TdxPageOrder.TwoPass,
            _ => throw new CliInputException($"--profile: '{o.Profile}' is not one of: upstream, two-pass"),
        };

        string firmware = Path.GetFullPath(o.Firmware);
        string? vars = o.Vars is null ? null : Path.GetFullPath(o.Vars);
        var tdx = new TdxSpec(0x1000_0000, 0x602E7, new byte[48], new byte[48], new byte[48], TdxMeasurementProfile.Upstream with { Order = order });
        return new LaunchSpec(
            "--firmware", platform, new FirmwareSpec(firmware, vars, new SpecLocation("--firmware", 0, 0)), null, 1,
            new MemorySpec(2UL << 30, []), platform == KvmVmType.Tdx ? tdx : null, null, null);
    }

    private static void WriteSnpJson(LaunchContext c, byte[] digest, TextWriter stdout)
    {
        var snp = c.Spec.Snp;
        var sev = c.Spec.Sev;
        var json = new SnpMeasureJson(
            c.Spec.Platform.Name(),
            Convert.ToHexStringLower(digest),
            (snp?.VmmType ?? sev!.VmmType).ToString().ToLowerInvariant(),
            c.Spec.Vcpus,
            (snp?.Vcpu ?? sev?.Vcpu) is { } v ? $"0x{v.Signature:x}" : null,
            snp is null ? null : $"0x{snp.GuestFeatures:x}",
            snp is null ? $"0x{sev!.Policy:x}" : $"0x{snp.Policy:x}",
            c.Log.Count);
        stdout.WriteLine(JsonSerializer.Serialize(json, CliJson.Default.SnpMeasureJson));
    }

    private static void WriteEventLog(LaunchContext c, string path)
    {
        if (c.Spec.Platform != KvmVmType.Tdx)
        {
            throw new CliInputException("--event-log: a CC event log is predicted for platform tdx");
        }

        var events = Vmm.Tdx.TdxRtmrReplay.LoggedEvents(c)
            ?? throw new CliInputException("--event-log: this firmware's event log is not predicted: it logs events while it runs (variables, ACPI tables, the boot loader) that the launch does not fix");
        try
        {
            File.WriteAllBytes(path, Formats.Tcg.CcEventLogWriter.Write(events));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException($"--event-log: cannot write '{path}': {e.Message}");
        }
    }

    private static void WriteJson(LaunchContext c, byte[] mrtd, TextWriter stdout)
    {
        var tdx = c.Spec.Tdx!;
        var td = c.RequireVm().Td!;
        var final = Vmm.Tdx.TdxRtmrReplay.Final(c);
        var json = new TdxMeasureJson(
            Platform: "tdx",
            Mrtd: Convert.ToHexStringLower(mrtd),
            Profile: new TdxProfileJson(
                Order: tdx.Measurement.Order == TdxPageOrder.SinglePass ? "single-pass" : "two-pass",
                PageAug: tdx.Measurement.PageAug == TdxPageAug.Ignore ? "ignore" : "skip",
                ShortSectionData: tdx.Measurement.ShortSectionData == TdxShortSectionData.ImageBytes ? "image-bytes" : "zero-fill"),
            Attributes: $"0x{tdx.Attributes:x16}",
            Xfam: $"0x{tdx.Xfam:x16}",
            Mrconfigid: Convert.ToHexStringLower(tdx.MrConfigId),
            Mrowner: Convert.ToHexStringLower(tdx.MrOwner),
            Mrownerconfig: Convert.ToHexStringLower(tdx.MrOwnerConfig),
            PageAdds: td.PagesAdded,
            MrExtends: td.Extends,
            BytesHashed: c.Log.TotalBytesHashed,
            Rtmr0: final is null ? null : Convert.ToHexStringLower(final[0]),
            Rtmr1: final is null ? null : Convert.ToHexStringLower(final[1]),
            Rtmr2: final is null ? null : Convert.ToHexStringLower(final[2]),
            Rtmr3: final is null ? null : Convert.ToHexStringLower(final[3]),
            RtmrsNote: final is null
                ? "rtmr0-3 are null: this firmware extends RTMRs while it runs with events the launch does not fix (tdx-mrtd.md §6.4); rtmr0LaunchEvents are the ones it does"
                : c.TdvfBootEvents is not null
                    ? "rtmr0-3 are what the TD will report after OVMF has booted the kernel (ExitBootServices), from tdx.measured-boot's inputs; measure --explain lists the events"
                    : "rtmr0-3 are what the TD will report: the firmware's RTMR events are all fixed at launch, and Linux 6.12 extends no RTMR",
            Rtmrs: td.Rtmrs.Select(Convert.ToHexStringLower).ToArray(),
            RtmrNote: "rtmrs: the registers at the end of the launch. RTMRs are extended only by the running TD (firmware and OS through TDG.MR.RTMR.EXTEND); "
                + "the emulated launch stops before the guest runs, so they are zero here. They are also zero on hardware for "
                + "firmware without CC measurement, such as Debian's edk2-stable202211 OVMF (tdx-mrtd.md §6.5).",
            Rtmr0LaunchEvents: Vmm.Tdx.TdxRtmrReplay.LaunchEvents(c).Select(e => new RtmrEventJson(e.Type, Convert.ToHexStringLower(e.Digest))).ToArray(),
            Rtmr0AfterLaunchEvents: Convert.ToHexStringLower(Vmm.Tdx.TdxRtmrReplay.Replay(Vmm.Tdx.TdxRtmrReplay.LaunchEvents(c))),
            Rtmr0Note: "For firmware with CC measurement, RTMR0 starts with these two events (tdx-mrtd.md §6.4: the TD HOB, then the CFV); "
                + "the variable, separator and ACPI events the firmware adds while it runs follow them, so this is a prefix of RTMR0, not its final value.");
        stdout.WriteLine(JsonSerializer.Serialize(json, CliJson.Relaxed.TdxMeasureJson));
    }
}
