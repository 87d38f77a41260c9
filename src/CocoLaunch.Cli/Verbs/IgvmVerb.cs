using CocoLaunch.Abi;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Igvm;
using CocoLaunch.Vmm.Launch;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("igvm", HelpText = "IGVM files: 'igvm build SPEC --out FILE.igvm' packages an SNP or TDX spec's firmware as IGVM, page for page as the spec's launch measures it.")]
public sealed class IgvmOptions : CommonOptions
{
    [Value(0, MetaName = "ACTION", Required = true, HelpText = "build: package the spec's launch as an IGVM file.")]
    public string Action { get; set; } = string.Empty;

    [Value(1, MetaName = "SPEC", Required = true, HelpText = "The launch spec (YAML), platform snp or tdx.")]
    public string Spec { get; set; } = string.Empty;

    [Option("out", Required = true, HelpText = "The IGVM file to write.")]
    public string Out { get; set; } = string.Empty;
}

/// <summary>
/// <c>igvm build SPEC --out FILE.igvm</c>: runs the spec's launch, recording every page it loads, and writes those
/// pages, the VMSAs and the ID block as an IGVM file (<see cref="IgvmPackage"/>), so that
/// <c>measure FILE.igvm --platform P</c> gives the digest <c>measure SPEC</c> gives.
/// </summary>
internal static class IgvmVerb
{
    public static int Run(IgvmOptions o, TextWriter stdout)
    {
        if (o.Action != "build")
        {
            throw new CliInputException($"igvm: '{o.Action}' is not an action; use 'igvm build SPEC --out FILE.igvm'");
        }

        var spec = LaunchSpecParser.Load(o.Spec);
        string platform = spec.Platform switch
        {
            KvmVmType.Snp => "snp",
            KvmVmType.Tdx => "tdx",
            _ => throw new CliInputException($"{o.Spec}: platform {spec.Platform.Name()} has no IGVM form (snp and tdx do)"),
        };

        var loaded = new LoadedPages();
        var launched = MeasureVerb.Launch(spec, o.Spec, loaded: loaded);
        byte[] file;
        try
        {
            file = IgvmPackage.Build(launched);
        }
        catch (LaunchException e)
        {
            throw new CliInputException($"{o.Spec}: {e.Message}");
        }

        File.WriteAllBytes(o.Out, file);

        // QEMU's loader gives a page without data the ZERO type, as the spec's launch does; igvmmeasure needs --native-zero for that.
        bool zeroPages = loaded.Ranges.Any(r => r.Kind == LoadedPageKind.Zero);
        string profile = zeroPages ? " --profile igvm-native-zero" : string.Empty;
        stdout.WriteLine($"{o.Out}: {file.Length} bytes, {loaded.Ranges.Sum(r => (long)(r.Size / PageSize.Size4K))} pages; its digest: measure {o.Out} --platform {platform}{profile}");
        return ExitCode.Ok;
    }
}
