using CocoLaunch.Abi;
using CocoLaunch.Cli.Reports;
using CocoLaunch.Abi.IO;
using CocoLaunch.Formats;
using CocoLaunch.Formats.Igvm;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Spec;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("inspect", HelpText = "Show a firmware image's OVMF GUID table, TDX (TDVF) sections, SEV sections and AP reset EIP; or an IGVM file's headers.")]
public sealed class InspectOptions : CommonOptions
{
    [Value(0, MetaName = "FIRMWARE|IGVM|SPEC", Required = true, HelpText = "A firmware image, an IGVM file (told by its \"IGVM\" magic), or a launch spec (.yaml) whose firmware to show.")]
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

        if (!IsSpec(o.Target) && StartsWithIgvmMagic(o.Target))
        {
            return InspectIgvm(o, o.Target, stdout);
        }

        if (IsSpec(o.Target) && LaunchSpecParser.Load(o.Target).FirmwareOrNull is { IsIgvm: true } igvm)
        {
            return InspectIgvm(o, igvm.Path, stdout); // a spec's IGVM firmware is inspected as the file itself
        }

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

    internal static bool IsSpec(string path) => path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads the first four bytes only; a file that cannot be read is left to the firmware loader's messages.</summary>
    internal static bool StartsWithIgvmMagic(string path)
    {
        try
        {
            InputFile.CheckRegular(path, "firmware");
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            Span<byte> magic = stackalloc byte[4];
            return stream.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) == magic.Length && IgvmFixedHeader.HasMagic(magic);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>An IGVM file: every header is checked while read, so a malformed file is exit 2 naming the header and offset.</summary>
    private static int InspectIgvm(InspectOptions o, string path, TextWriter stdout)
    {
        if (o.Vars is not null || o.Platform is not null)
        {
            throw new CliInputException($"{(o.Vars is not null ? "--vars" : "--platform")}: not used with an IGVM file ({path}), which names its own platforms");
        }

        byte[] bytes = InputFile.ReadAllBytes(path, InputFile.BootImageLimit, "IGVM");
        IgvmFile igvm;
        try
        {
            igvm = IgvmFile.Parse(bytes);
        }
        catch (IgvmFormatException e)
        {
            throw new CliInputException($"{path}: igvm: {e.Message}");
        }

        if (o.Format == OutputFormat.Json)
        {
            IgvmReport.WriteJson(path, bytes, igvm, stdout);
        }
        else
        {
            IgvmReport.WriteText(path, bytes, igvm, stdout);
        }

        return ExitCode.Ok;
    }

    private static FirmwareImage LoadImage(InspectOptions o, ref KvmVmType? platform)
    {
        if (!IsSpec(o.Target))
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
