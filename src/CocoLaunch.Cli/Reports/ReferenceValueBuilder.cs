using System.Globalization;
using System.Security.Cryptography;
using CocoLaunch.Abi;
using CocoLaunch.Attestation.ReferenceValues;
using CocoLaunch.Cli.Verbs;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Cli.Reports;

/// <summary>A spec's reference value: an emulated launch with content fingerprints, and what the digest depends on.</summary>
internal static class ReferenceValueBuilder
{
    public static (ReferenceValue Value, LaunchContext Context) Build(string specPath, bool withLog)
    {
        var spec = LaunchSpecParser.Load(specPath);
        var context = MeasureVerb.Launch(spec, specPath, recordContent: true);
        byte[] digest = context.Mrtd ?? context.LaunchDigest!;
        var inputs = new List<ReferenceInput> { Input("spec", specPath), Input("firmware", spec.Firmware.Path) };
        if (spec.Firmware.VarsPath is { } vars)
        {
            inputs.Add(Input("vars", vars));
        }

        if (spec.MeasuredDirectBoot is { } boot)
        {
            inputs.Add(Input("kernel", boot.KernelPath));
            if (boot.InitrdPath is { } initrd)
            {
                inputs.Add(Input("initrd", initrd));
            }
        }

        var value = new ReferenceValue
        {
            Name = Path.GetFileNameWithoutExtension(specPath),
            Platform = spec.Platform.Name(),
            Digest = Convert.ToHexStringLower(digest),
            Inputs = inputs,
            Profile = Profile(spec),
            Config = Config(spec),
            // RTMRs as the TD will report them where the launch decides them all (our Linux TD firmware); else as the
            // launch left them, which is what a firmware without CC measurement reports.
            Rtmrs = spec.Platform == KvmVmType.Tdx
                ? [.. (Vmm.Tdx.TdxRtmrReplay.Final(context) ?? context.RequireVm().Td!.Rtmrs).Select(Convert.ToHexStringLower)]
                : null,
            RtmrEvents = Vmm.Tdx.TdxRtmrReplay.LoggedEvents(context)?.Select(Reports.RtmrEvents.Of).ToList(),
            Log = withLog ? context.Log.Operations : null,
        };
        return (value, context);
    }

    private static ReferenceInput Input(string role, string path)
    {
        // Only the hash is recorded: streamed, so a large firmware, kernel or initrd is not held whole once more.
        var (hash, _) = Abi.IO.InputFile.HashData(path, Abi.IO.InputFile.BootImageLimit, role, HashAlgorithmName.SHA256);
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, path);
        string shown = relative.StartsWith("..", StringComparison.Ordinal) ? Path.GetFullPath(path) : relative;
        return new ReferenceInput(role, shown.Replace('\\', '/'), Convert.ToHexStringLower(hash));
    }

    private static Dictionary<string, string> Profile(LaunchSpec spec)
    {
        if (spec.Tdx is { } tdx)
        {
            return new()
            {
                ["order"] = tdx.Measurement.Order == TdxPageOrder.SinglePass ? "single-pass" : "two-pass",
                ["pageAug"] = tdx.Measurement.PageAug == TdxPageAug.Ignore ? "ignore" : "skip",
                ["shortSectionData"] = tdx.Measurement.ShortSectionData == TdxShortSectionData.ImageBytes ? "image-bytes" : "zero-fill",
            };
        }

        var vmm = spec.Snp?.VmmType ?? spec.Sev!.VmmType;
        return new() { ["vmmType"] = vmm.ToString().ToLowerInvariant() };
    }

    private static Dictionary<string, string> Config(LaunchSpec spec)
    {
        var c = CultureInfo.InvariantCulture;
        var config = new Dictionary<string, string> { ["vcpus"] = spec.Vcpus.ToString(c) };
        if (spec.Tdx is { } tdx)
        {
            config["attributes"] = $"0x{tdx.Attributes:x16}";
            config["xfam"] = $"0x{tdx.Xfam:x16}";
            config["mrconfigid"] = Convert.ToHexStringLower(tdx.MrConfigId);
            config["mrowner"] = Convert.ToHexStringLower(tdx.MrOwner);
            config["mrownerconfig"] = Convert.ToHexStringLower(tdx.MrOwnerConfig);
        }
        else if (spec.Snp is { } snp)
        {
            config["policy"] = $"0x{snp.Policy:x}";
            config["guestFeatures"] = $"0x{snp.GuestFeatures:x}";
            AddVcpu(config, snp.Vcpu);
            if (snp.HostData is { } host)
            {
                config["hostData"] = Convert.ToHexStringLower(host);
            }
        }
        else if (spec.Sev is { } sev)
        {
            config["policy"] = $"0x{sev.Policy:x}";
            AddVcpu(config, sev.Vcpu);
        }

        return config;
    }

    private static void AddVcpu(Dictionary<string, string> config, VcpuIdentity? vcpu)
    {
        if (vcpu is null)
        {
            return;
        }

        config["vcpuSignature"] = $"0x{vcpu.Signature:x}";
        if (vcpu.Name is { } name)
        {
            config["vcpuType"] = name;
        }
    }
}
