using CocoLaunch.Abi;
using CocoLaunch.Cli.Reports;
using CocoLaunch.Formats;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Spec;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("inspect", HelpText = "Show a firmware image's OVMF GUID table, TDX (TDVF) sections, SEV sections and AP reset EIP.")]
public sealed class InspectOptions : CommonOptions
{
    [Value(0, MetaName = "FIRMWARE|SPEC", Required = true, HelpText = "A firmware image, or a launch spec (.yaml) whose firmware to show.")]
    public string Target { get; set; } = string.Empty;

    [Option("vars", HelpText = "A separate vars file that precedes the firmware file (OVMF_VARS.fd before OVMF_CODE.fd).")]
    public string? Vars { get; set; }

    [Option("format", HelpText = "text (the default) or json.")]
    public OutputFormat Format { get; set; }

    [Option("platform", HelpText = "Only fail on metadata this platform needs (tdx, snp, sev-es, sev; default and sw-protected need none). Without it, any broken metadata fails.")]
    public string? Platform { get; set; }
}

internal static class InspectVerb
{
    public static int Run(InspectOptions o, TextWriter stdout, TextWriter stderr)
    {
        KvmVmType? platform = o.Platform is null ? null
            : LaunchSpecParser.Platforms.TryGetValue(o.Platform, out var p) ? p
            : throw new CliInputException($"--platform: '{o.Platform}' is not one of: {string.Join(", ", LaunchSpecParser.Platforms.Keys)}");

        var image = LoadImage(o, ref platform);
        OvmfFirmware firmware;
        try
        {
            firmware = OvmfFirmware.Parse(image);
        }
        catch (FirmwareFormatException e)
        {
            throw new CliInputException(e.Describe(image.Name));
        }

        if (o.Format == OutputFormat.Json)
        {
            FirmwareJsonReport.Write(firmware, stdout);
        }
        else
        {
            FirmwareTextReport.Write(firmware, stdout);
        }

        string? problem = platform is { } only
            ? FirmwareRequirements.Check(firmware, only, vcpus: 1, directBoot: false)
            : firmware.FirstError?.Describe(image.Name);
        if (problem is null)
        {
            return ExitCode.Ok;
        }

        CliApp.Error(stderr, problem);
        return ExitCode.InputError;
    }

    private static FirmwareImage LoadImage(InspectOptions o, ref KvmVmType? platform)
    {
        bool isSpec = o.Target.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || o.Target.EndsWith(".yml", StringComparison.OrdinalIgnoreCase);
        if (!isSpec)
        {
            return FirmwareImage.Load(o.Target, o.Vars);
        }

        if (o.Vars is not null)
        {
            throw new CliInputException("--vars: not allowed with a launch spec, which names its own vars file (firmware.vars)");
        }

        var spec = LaunchSpecParser.Load(o.Target);
        platform ??= spec.Platform.IsConfidential() ? spec.Platform : null;
        try
        {
            return FirmwareImage.Load(spec.Firmware.Path, spec.Firmware.VarsPath);
        }
        catch (FirmwareFileException e)
        {
            throw new CliInputException($"{spec.Firmware.Location}: firmware: {e.Message}");
        }
    }
}
