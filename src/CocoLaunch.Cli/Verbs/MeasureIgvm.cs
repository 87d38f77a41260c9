using System.Text.Json;
using CocoLaunch.Abi;
using CocoLaunch.Abi.IO;
using CocoLaunch.Cli.Reports;
using CocoLaunch.Formats.Igvm;
using CocoLaunch.Vmm.Igvm;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Cli.Verbs;

/// <summary>
/// <c>measure FILE.igvm --platform snp|tdx</c>: the launch digest of the file's directives for one platform, as
/// igvmmeasure and the igvm crate compute it, from the emulated KVM launch of those directives.
/// </summary>
internal static class MeasureIgvm
{
    public static int Run(MeasureOptions o, TextWriter stdout)
    {
        string path = o.Spec!;
        RefuseSpecOptions(o);
        var platform = o.Platform switch
        {
            "snp" or "sev-snp" => KvmVmType.Snp,
            "tdx" => KvmVmType.Tdx,
            null => throw new CliInputException($"{path}: an IGVM file may hold several platforms; give --platform snp or --platform tdx"),
            _ => throw new CliInputException($"--platform: '{o.Platform}' is not one of: snp, tdx (for an IGVM file)"),
        };
        var zeroPages = o.Profile switch
        {
            null or "igvm" => IgvmZeroPages.Normal,
            "igvm-native-zero" when platform == KvmVmType.Snp => IgvmZeroPages.Native,
            _ => throw new CliInputException($"--profile: '{o.Profile}' is not one of: igvm, igvm-native-zero (snp only) for an IGVM file"),
        };
        if (o.Vcpus is < 1)
        {
            throw new CliInputException($"--vcpus: {o.Vcpus} is not a vCPU count (at least 1)");
        }

        byte[] bytes = InputFile.ReadAllBytes(path, InputFile.BootImageLimit, "IGVM");
        LaunchContext context;
        try
        {
            context = IgvmLaunch.Run(path, IgvmFile.Parse(bytes), bytes, platform, o.Vcpus, zeroPages);
        }
        catch (IgvmFormatException e)
        {
            throw new CliInputException($"{path}: igvm: {e.Message}");
        }
        catch (LaunchException e)
        {
            throw new CliInputException($"{path}: igvm: {e.Message}");
        }

        byte[] digest = context.Mrtd ?? context.LaunchDigest!;
        if (o.Explain)
        {
            foreach (var op in context.Log.Operations)
            {
                stdout.WriteLine(op.ToLine());
            }
        }

        stdout.WriteLine(o.OutputFormat switch
        {
            "json" => Json(context, platform, digest, zeroPages),
            "base64" => Convert.ToBase64String(digest),
            _ => Convert.ToHexStringLower(digest),
        });
        return ExitCode.Ok;
    }

    /// <summary>The options that describe a firmware launch mean nothing for an IGVM file, which carries its own pages.</summary>
    private static void RefuseSpecOptions(MeasureOptions o)
    {
        string? used = o.Firmware is not null ? "--firmware" : o.Vars is not null ? "--vars" : o.Mode is not null ? "--mode" : o.Ovmf is not null ? "--ovmf"
            : o.TdReport is not null ? "--tdreport" : o.EventLog is not null ? "--event-log" : o.DumpVmsa ? "--dump-vmsa" : o.Kernel is not null ? "--kernel"
            : o.VcpuType is not null || o.VcpuSig is not null ? "--vcpu-type/--vcpu-sig" : null;
        if (used is not null)
        {
            throw new CliInputException($"{used}: not used with an IGVM file ({o.Spec}), whose directives are the whole launch");
        }
    }

    private static string Json(LaunchContext c, KvmVmType platform, byte[] digest, IgvmZeroPages zeroPages)
    {
        var json = new IgvmMeasureJson(
            platform == KvmVmType.Tdx ? "tdx" : "snp",
            Convert.ToHexStringLower(digest),
            c.Spec.Vcpus,
            platform == KvmVmType.Tdx ? null : zeroPages == IgvmZeroPages.Native ? "zero" : "normal",
            $"0x{c.Igvm!.Platform.Mask:x}",
            c.Igvm.Directives.Count(),
            c.Log.Count);
        return JsonSerializer.Serialize(json, CliJson.Default.IgvmMeasureJson);
    }
}
