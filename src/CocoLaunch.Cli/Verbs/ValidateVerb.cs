using CocoLaunch.Abi;
using CocoLaunch.Formats;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Spec;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("validate", HelpText = "Check a launch spec: its YAML, its values, its files, and that the firmware suits the platform.")]
public sealed class ValidateOptions : CommonOptions
{
    [Value(0, MetaName = "SPEC", Required = true, HelpText = "The launch spec (YAML).")]
    public string Spec { get; set; } = string.Empty;
}

internal static class ValidateVerb
{
    public static int Run(ValidateOptions o, TextWriter stdout)
    {
        var spec = LaunchSpecParser.Load(o.Spec);
        if (spec.IsFirmwareless)
        {
            return ValidateKernelBoot(o, spec, stdout);
        }

        if (spec.Firmware.IsIgvm)
        {
            return ValidateIgvm(o, spec, stdout);
        }

        var (image, firmware) = LoadFirmware(spec);
        IReadOnlyList<Vmm.Launch.PlannedSlot> layout;
        try
        {
            layout = Vmm.Launch.GuestMemoryLayout.Plan(spec, (ulong)image.Size);
        }
        catch (Vmm.Launch.LaunchException e)
        {
            throw new CliInputException($"{(object?)spec.Memory.Location ?? o.Spec}: memory: {e.Message}");
        }

        // The checks the launch makes before its first ioctl: every section in memory of the right kind, and the TD HOB.
        try
        {
            Vmm.Launch.SectionPlacement.Check(layout, firmware, spec.Platform);
        }
        catch (Vmm.Launch.LaunchException e)
        {
            throw new CliInputException($"{spec.Firmware.Location}: {FirmwareKey(spec.Firmware.Location)}{e.Message}");
        }

        // The RTMR prediction reads its own inputs (ACPI files, boot variables, the kernel's PE image): measure would
        // refuse them after the launch, so validate runs the launch to find out.
        int? rtmrEvents = spec.Tdx?.MeasuredBoot is null ? null : MeasureVerb.Launch(spec, o.Spec).TdvfBootEvents!.Count;

        string what = firmware switch
        {
            { Tdx.Value: { } t } when spec.Platform == KvmVmType.Tdx => $", {t.Sections.Count} TDX sections",
            { Sev.Value.Metadata: { } s } when spec.Platform.IsConfidential() => $", {s.Sections.Count} SEV sections",
            _ => string.Empty,
        };
        string platform = spec.Platform.Name();
        string name = Path.GetFileName(spec.Firmware.Path);
        name = spec.Firmware.VarsPath is { } vars ? $"{Path.GetFileName(vars)}+{name}" : name;
        stdout.WriteLine($"{o.Spec}: ok: platform {platform}, firmware {name} ({image.Size} bytes{what}), "
            + $"{spec.Vcpus} vCPU{(spec.Vcpus == 1 ? string.Empty : "s")}, memory {SizeParser.Format(spec.Memory.Size)}"
            + (spec.Memory.Slots.Count switch { 0 => string.Empty, 1 => " in 1 slot", int n => $" in {n} slots" })
            + (spec.DirectBoot is null ? string.Empty : spec.MeasuredDirectBoot is null ? ", direct kernel boot (unmeasured: kernel-hashes off)" : ", direct kernel boot")
            + (rtmrEvents is { } count ? $", {count} RTMR events predicted" : string.Empty));
        return ExitCode.Ok;
    }

    /// <summary>An IGVM firmware: the strict reader, directives for the platform, memory for them, and a TD's HOB, as launch checks them.</summary>
    private static int ValidateIgvm(ValidateOptions o, LaunchSpec spec, TextWriter stdout)
    {
        var context = IgvmFirmware.Context(spec);
        IgvmFirmware.RequireTdHob(context);
        string platform = spec.Platform.Name();
        stdout.WriteLine($"{o.Spec}: ok: platform {platform}, firmware {IgvmFirmware.Describe(context)}, "
            + $"{spec.Vcpus} vCPU{(spec.Vcpus == 1 ? string.Empty : "s")}, memory {SizeParser.Format(spec.Memory.Size)}");
        return ExitCode.Ok;
    }

    /// <summary>A spec that boots its kernel without firmware: the kernel's setup header and the boot layout, as launch checks them.</summary>
    private static int ValidateKernelBoot(ValidateOptions o, LaunchSpec spec, TextWriter stdout)
    {
        var boot = spec.DirectBoot!;
        var kernel = KernelBoot.Load(boot.KernelPath);
        long initrd = boot.InitrdPath is null ? 0 : new FileInfo(boot.InitrdPath).Length;
        try
        {
            Vmm.Boot.LinuxBoot.Plan(kernel, (ulong)initrd, boot.Cmdline ?? string.Empty, spec.Memory.Size);
        }
        catch (Vmm.Boot.LinuxBootException e)
        {
            throw new CliInputException($"{boot.KernelPath}: {e.Message}");
        }

        stdout.WriteLine($"{o.Spec}: ok: platform default, kernel {Path.GetFileName(boot.KernelPath)} (boot protocol {kernel.Version >> 8}.{kernel.Version & 0xFF:D2}), "
            + $"vcpu-type {spec.VcpuType}, 1 vCPU, memory {SizeParser.Format(spec.Memory.Size)}, direct kernel boot without firmware");
        return ExitCode.Ok;
    }

    /// <summary>In a spec the message names the key; on the command line the option already does.</summary>
    private static string FirmwareKey(SpecLocation at) => at.Line > 0 ? "firmware: " : string.Empty;

    /// <summary>Loads the spec's firmware; confidential platforms also need OVMF metadata that suits them.</summary>
    internal static (FirmwareImage Image, OvmfFirmware? Firmware) LoadFirmware(LaunchSpec spec)
    {
        var at = spec.Firmware.Location;
        FirmwareImage image;
        try
        {
            image = FirmwareImage.Load(spec.Firmware.Path, spec.Firmware.VarsPath);
        }
        catch (FirmwareFileException e)
        {
            throw new CliInputException($"{at}: {FirmwareKey(at)}{e.Message}");
        }

        if (!spec.Platform.IsConfidential())
        {
            return (image, null);
        }

        OvmfFirmware firmware;
        try
        {
            firmware = OvmfFirmware.Parse(image);
        }
        catch (FirmwareFormatException e)
        {
            throw new CliInputException($"{at}: {FirmwareKey(at)}{e.Describe(image.Name)}");
        }

        string? problem = FirmwareRequirements.Check(firmware, spec.Platform, spec.Vcpus, spec.MeasuredDirectBoot is not null);
        return problem is null ? (image, firmware) : throw new CliInputException($"{at}: {FirmwareKey(at)}{problem}");
    }
}
