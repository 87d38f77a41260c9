using YamlDotNet.RepresentationModel;

namespace CocoLaunch.Spec;

internal static class TdxSection
{
    /// <summary>QEMU's default TD attributes: SEPT_VE_DISABLE (bit 28).</summary>
    public const ulong DefaultAttributes = 0x1000_0000;

    /// <summary>x87, SSE, AVX, AVX-512 (3 bits), PKRU and AMX (2 bits): the common XFAM.</summary>
    public const ulong DefaultXfam = 0x602E7;

    /// <summary>The ATTRIBUTES bits defined by Linux <c>asm/shared/tdx.h</c> (tdx-mrtd.md §10).</summary>
    public const ulong KnownAttributes =
        (1UL << 0) | (1UL << 4) | (1UL << 5) | (1UL << 6) | (1UL << 16) | (1UL << 27) | (1UL << 28)
        | (1UL << 29) | (1UL << 30) | (1UL << 31) | (1UL << 62) | (1UL << 63);

    /// <summary>XFAM follows XCR0/IA32_XSS; bits 0–19 are defined (19 = APX).</summary>
    public const ulong KnownXfam = (1UL << 20) - 1;

    /// <summary>x87 and SSE state are architecturally always enabled in a TD.</summary>
    public const ulong RequiredXfam = 0x3;

    public const int MeasurementRegisterSize = 48;

    public static TdxSpec Defaults { get; } = new(
        DefaultAttributes, DefaultXfam, new byte[48], new byte[48], new byte[48], TdxMeasurementProfile.Upstream);

    private static readonly Dictionary<string, TdxPageOrder> Orders = new(StringComparer.Ordinal)
    {
        ["single-pass"] = TdxPageOrder.SinglePass,
        ["two-pass"] = TdxPageOrder.TwoPass,
    };

    private static readonly Dictionary<string, TdxPageAug> PageAugs = new(StringComparer.Ordinal)
    {
        ["ignore"] = TdxPageAug.Ignore,
        ["skip"] = TdxPageAug.Skip,
    };

    private static readonly Dictionary<string, TdxShortSectionData> ShortData = new(StringComparer.Ordinal)
    {
        ["image-bytes"] = TdxShortSectionData.ImageBytes,
        ["zero-fill"] = TdxShortSectionData.ZeroFill,
    };

    public static TdxSpec Read(YamlSpecReader reader, YamlNode node)
    {
        var map = reader.Mapping(node, "tdx", "attributes", "xfam", "mrconfigid", "mrowner", "mrownerconfig", "measurement", "measured-boot");
        ulong attributes = map.Optional("attributes") is { } a ? Bits(reader, a, "tdx.attributes", KnownAttributes) : DefaultAttributes;
        ulong xfam = map.Optional("xfam") is { } x ? Bits(reader, x, "tdx.xfam", KnownXfam) : DefaultXfam;
        if (map.Optional("xfam") is { } xfamNode && (xfam & RequiredXfam) != RequiredXfam)
        {
            throw reader.Fail(xfamNode, $"tdx.xfam: 0x{xfam:x} must include x87 and SSE (bits 0 and 1)");
        }

        return new TdxSpec(
            attributes,
            xfam,
            Register(reader, map, "mrconfigid"),
            Register(reader, map, "mrowner"),
            Register(reader, map, "mrownerconfig"),
            map.Optional("measurement") is { } m ? ReadProfile(reader, m) : TdxMeasurementProfile.Upstream,
            map.Optional("measured-boot") is { } b ? ReadMeasuredBoot(reader, b) : null);
    }

    private static readonly Dictionary<string, QemuKernelPatch> KernelPatches = new(StringComparer.Ordinal)
    {
        ["qemu-7.2"] = QemuKernelPatch.Qemu72,
        ["unpatched"] = QemuKernelPatch.Unpatched,
    };

    /// <summary>A mapping of fw_cfg file names (as QEMU names them, e.g. etc/acpi/tables) to captured files; etc/table-loader is required.</summary>
    private static Dictionary<string, string> FwCfgFiles(YamlSpecReader reader, YamlNode node)
    {
        const string Key = "tdx.measured-boot.fw-cfg";
        if (node is not YamlMappingNode mapping)
        {
            throw reader.Fail(node, $"{Key}: expected a mapping of fw_cfg file names to files, got {YamlSpecReader.Describe(node)}");
        }

        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in mapping.Children)
        {
            string name = reader.String(k, Key);
            if (name.Length is 0 or > 55 || !name.All(ch => ch is > ' ' and < (char)0x7F))
            {
                throw reader.Fail(k, $"{Key}: '{name}' is not a fw_cfg file name (1 to 55 printable ASCII characters)");
            }

            files[name] = reader.ExistingFile(v, $"{Key}.{name}");
        }

        return files.ContainsKey("etc/table-loader")
            ? files
            : throw reader.Fail(node, $"{Key}: needs etc/table-loader, the script that says which ACPI files the firmware loads and measures");
    }

    private static TdxMeasuredBootSpec ReadMeasuredBoot(YamlSpecReader reader, YamlNode node)
    {
        const string Key = "tdx.measured-boot";
        var map = reader.Mapping(node, Key, "kernel-patch", "fw-cfg", "boot-order", "boot-options");
        string File(string name) => reader.ExistingFile(map.Required(name), $"{Key}.{name}");
        var optionsNode = map.Required("boot-options");
        if (optionsNode is not YamlSequenceNode options)
        {
            throw reader.Fail(optionsNode, $"{Key}.boot-options: expected a list of Boot#### variable files, got {YamlSpecReader.Describe(optionsNode)}");
        }

        return new TdxMeasuredBootSpec(
            reader.Choice(map.Required("kernel-patch"), $"{Key}.kernel-patch", KernelPatches),
            FwCfgFiles(reader, map.Required("fw-cfg")),
            File("boot-order"),
            [.. options.Children.Select((n, i) => reader.ExistingFile(n, $"{Key}.boot-options[{i}]"))],
            reader.LocationOf(node));
    }

    private static byte[] Register(YamlSpecReader reader, MappingView map, string name) =>
        map.Optional(name) is { } n ? reader.Blob(n, "tdx." + name, MeasurementRegisterSize) : new byte[MeasurementRegisterSize];

    private static TdxMeasurementProfile ReadProfile(YamlSpecReader reader, YamlNode node)
    {
        var map = reader.Mapping(node, "tdx.measurement", "order", "page-aug", "short-section-data");
        var d = TdxMeasurementProfile.Upstream;
        return new TdxMeasurementProfile(
            map.Optional("order") is { } o ? reader.Choice(o, "tdx.measurement.order", Orders) : d.Order,
            map.Optional("page-aug") is { } p ? reader.Choice(p, "tdx.measurement.page-aug", PageAugs) : d.PageAug,
            map.Optional("short-section-data") is { } s ? reader.Choice(s, "tdx.measurement.short-section-data", ShortData) : d.ShortSectionData);
    }

    internal static ulong Bits(YamlSpecReader reader, YamlNode node, string key, ulong known)
    {
        ulong value = reader.UInt64(node, key);
        ulong unknown = value & ~known;
        return unknown == 0 ? value : throw reader.Fail(node, $"{key}: 0x{value:x} sets reserved bits 0x{unknown:x}");
    }
}
