using CocoLaunch.Abi;
using CocoLaunch.Abi.IO;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace CocoLaunch.Spec;

/// <summary>Reads a YAML guest image spec. The schema is documented in launch-specs/README.md.</summary>
public static class LaunchSpecParser
{
    /// <summary>KVM_MAX_VCPUS on x86.</summary>
    public const int MaxVcpus = 4096;

    /// <summary>The largest guest-physical address space x86 can describe (MAXPHYADDR 52).</summary>
    public const ulong MaxPhysicalAddress = 1UL << 52;

    /// <summary>A spec is a page of YAML; anything larger is the wrong file, and is refused before YAML sees it.</summary>
    public const long MaxSpecBytes = InputFile.TextLimit;

    private static readonly string[] TopLevelKeys = ["platform", "firmware", "kernel", "initrd", "cmdline", "vcpu-type", "vcpus", "memory", "tdx", "snp", "sev"];

    /// <summary>The CPUID tables a default-platform spec may choose (<c>vcpu-type</c>); the first is a direct boot's default.</summary>
    public static readonly IReadOnlyList<string> DefaultVcpuTypes = ["kvm-intel", "qemu64"];

    public static readonly IReadOnlyDictionary<string, KvmVmType> Platforms =
        new[] { KvmVmType.Tdx, KvmVmType.Snp, KvmVmType.SevEs, KvmVmType.Sev, KvmVmType.SwProtected, KvmVmType.Default }
            .ToDictionary(t => t.Name(), StringComparer.Ordinal); // the names users type, KvmVmTypeExtensions.Name's


    /// <exception cref="SpecException">The file is missing, unreadable or invalid.</exception>
    public static LaunchSpec Load(string path)
    {
        string text;
        try
        {
            text = InputFile.ReadAllText(path, MaxSpecBytes, "launch spec");
        }
        catch (InputFileException e)
        {
            throw new SpecException(path, 0, 0, e.Problem);
        }

        string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        return Parse(text, path, directory);
    }

    /// <summary>A TD with a kernel and no firmware of its own boots under the Linux TD firmware the tool carries.</summary>
    private static FirmwareSpec LinuxTdFirmware(YamlSpecReader reader, YamlNode platformNode) =>
        DefaultFirmware.LinuxTdPath is { } path && File.Exists(path)
            ? new FirmwareSpec(path, null, reader.LocationOf(platformNode))
            : throw reader.Fail(platformNode, "platform tdx with a kernel and no firmware boots the Linux TD firmware (samples/linux-tdx), which this build does not carry: name a firmware");

    /// <summary>An SNP guest with a kernel and no firmware of its own boots under the Linux SNP firmware the tool carries.</summary>
    private static FirmwareSpec LinuxSnpFirmware(YamlSpecReader reader, YamlNode platformNode) =>
        DefaultFirmware.LinuxSnpPath is { } path && File.Exists(path)
            ? new FirmwareSpec(path, null, reader.LocationOf(platformNode))
            : throw reader.Fail(platformNode, "platform snp with a kernel and no firmware boots the Linux SNP firmware (samples/linux-snp), which this build does not carry: name a firmware");

    /// <summary>Parses spec text; relative paths are resolved against <paramref name="baseDirectory"/>.</summary>
    public static LaunchSpec Parse(string text, string file, string baseDirectory)
    {
        var reader = new YamlSpecReader(file, baseDirectory);
        var root = LoadSingleDocument(text, reader);
        var top = reader.Mapping(root, string.Empty, TopLevelKeys);
        var platformNode = top.Required("platform");
        var platform = reader.Choice(platformNode, "platform", Platforms);

        var boot = ReadDirectBoot(reader, top);
        var firmware = boot is not null && !top.Has("firmware") && platform is KvmVmType.Default or KvmVmType.Tdx or KvmVmType.Snp
            ? platform switch
            {
                KvmVmType.Tdx => LinuxTdFirmware(reader, platformNode),
                KvmVmType.Snp => LinuxSnpFirmware(reader, platformNode),
                _ => null,
            }
            : FirmwareSection.Read(reader, top);
        bool igvm = firmware?.IsIgvm == true;
        if (igvm)
        {
            FirmwareSection.CheckIgvm(reader, top, platform);
        }

        string? vcpuType = ReadVcpuType(reader, top, platform, firmware is null);
        int vcpus = top.Optional("vcpus") is { } v ? (int)reader.Int64InRange(v, "vcpus", 1, MaxVcpus) : 1;
        var memory = MemorySection.Read(reader, top.Required("memory"), platform);

        var tdx = PlatformSection(reader, top, "tdx", platform, KvmVmType.Tdx) is { } t ? TdxSection.Read(reader, t) : null;
        var snpNode = PlatformSection(reader, top, "snp", platform, KvmVmType.Snp);
        var snp = igvm ? SnpSection.ReadForIgvm(reader, snpNode) : snpNode is { } s ? SnpSection.Read(reader, s, boot is not null, top.Has("firmware")) : null;
        var sev = PlatformSection(reader, top, "sev", platform, KvmVmType.Sev, KvmVmType.SevEs) is { } e ? SevSection.Read(reader, e, platform) : null;

        tdx ??= platform == KvmVmType.Tdx ? TdxSection.Defaults : null;
        if (tdx?.MeasuredBoot is { Location: var at } && boot is null)
        {
            throw new SpecException(at.File, at.Line, at.Column, "tdx.measured-boot: describes how the firmware measures a direct-boot kernel, but the spec has no 'kernel'");
        }

        if (platform == KvmVmType.Snp && snp is null)
        {
            throw reader.Fail(platformNode, "platform snp needs an 'snp' section naming at least the vCPU type (snp.vcpu-type)");
        }

        if (platform == KvmVmType.SevEs && sev is null)
        {
            throw reader.Fail(platformNode, "platform sev-es needs a 'sev' section naming at least the vCPU type (sev.vcpu-type)");
        }

        sev ??= platform == KvmVmType.Sev ? SevSection.Defaults : null;
        if (firmware is null && vcpus != 1)
        {
            throw reader.Fail(top.Required("vcpus"), $"vcpus: {vcpus}; a kernel booted without firmware runs on one vCPU for now");
        }

        return new LaunchSpec(Path.GetFullPath(file), platform, firmware, boot, vcpus, memory, tdx, snp, sev, vcpuType);
    }

    /// <summary><c>vcpu-type</c>: one of <see cref="DefaultVcpuTypes"/>, for platform default only (the others name theirs in their section).</summary>
    private static string? ReadVcpuType(YamlSpecReader reader, MappingView top, KvmVmType platform, bool firmwareless)
    {
        if (top.Optional("vcpu-type") is not { } node)
        {
            return firmwareless ? DefaultVcpuTypes[0] : null;
        }

        if (platform != KvmVmType.Default)
        {
            throw reader.Fail(top.KeyNode("vcpu-type"), "vcpu-type: a top-level vCPU type is for platform default; tdx, snp and sev name theirs in their own section");
        }

        string value = reader.String(node, "vcpu-type");
        if (!DefaultVcpuTypes.Contains(value))
        {
            throw reader.Fail(node, $"vcpu-type: '{value}' is not one of: {string.Join(", ", DefaultVcpuTypes)}");
        }

        return value;
    }

    private static YamlNode LoadSingleDocument(string text, YamlSpecReader reader)
    {
        var stream = new YamlStream();
        var parser = new BoundedYamlParser(new Scanner(new StringReader(text)), reader);
        try
        {
            stream.Load(parser);
        }
        catch (SpecException)
        {
            throw;
        }
        catch (YamlException e)
        {
            // YamlDotNet's messages start with its own "(Line: …)" prefix; the position is ours to print.
            string message = StripYamlDotNetPosition(e.Message);
            const string duplicate = "Duplicate key ";
            throw reader.Fail(e.Start, message.StartsWith(duplicate, StringComparison.Ordinal)
                ? $"duplicate key '{message[duplicate.Length..]}'"
                : "YAML syntax error: " + message);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            // YamlDotNet throws these from inside its scanner on some malformed text (a stray ':' or '{' in a plain
            // scalar, say) instead of a YamlException; they are still syntax errors of the input, at the scanner's place.
            throw reader.Fail(parser.Position, "YAML syntax error: the text just before here cannot be read as YAML (check quotes, brackets and ':' in values)");
        }

        if (stream.Documents.Count == 0)
        {
            throw new SpecException(reader.File, 1, 1, "the spec is empty; it needs at least 'platform', 'firmware' and 'memory'");
        }

        if (stream.Documents.Count > 1)
        {
            throw reader.Fail(stream.Documents[1].RootNode, "the spec holds more than one YAML document; put one spec in each file");
        }

        return stream.Documents[0].RootNode;
    }

    private static string StripYamlDotNetPosition(string message)
    {
        int close = message.StartsWith("(Line:", StringComparison.Ordinal) ? message.IndexOf("): ", StringComparison.Ordinal) : -1;
        return close < 0 ? message : message[(close + 3)..];
    }

    private static DirectBootSpec? ReadDirectBoot(YamlSpecReader reader, MappingView top)
    {
        var kernel = top.Optional("kernel");
        if (kernel is null)
        {
            foreach (string orphan in new[] { "initrd", "cmdline" })
            {
                if (top.Has(orphan))
                {
                    throw reader.Fail(top.KeyNode(orphan), $"{orphan}: given without 'kernel'; an initrd or command line needs a direct-boot kernel");
                }
            }

            return null;
        }

        return new DirectBootSpec(
            reader.ExistingFile(kernel, "kernel"),
            top.Optional("initrd") is { } i ? reader.ExistingFile(i, "initrd") : null,
            top.Optional("cmdline") is { } c ? reader.String(c, "cmdline") : null);
    }

    private static YamlNode? PlatformSection(YamlSpecReader reader, MappingView top, string name, KvmVmType platform, params KvmVmType[] owners)
    {
        var node = top.Optional(name);
        if (node is not null && Array.IndexOf(owners, platform) < 0)
        {
            string ownerNames = string.Join(" or ", owners.Select(o => o.Name()));
            string actual = platform.Name();
            throw reader.Fail(top.KeyNode(name), $"{name}: this section applies to platform {ownerNames}, but the platform is {actual}");
        }

        return node;
    }
}
