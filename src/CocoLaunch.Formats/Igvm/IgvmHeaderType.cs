namespace CocoLaunch.Formats.Igvm;

/// <summary>
/// Variable header types (IgvmVariableHeaderType in microsoft/igvm igvm_defs/src/lib.rs). The high bit of a stored
/// type is not part of it: it says a loader that does not know the type may skip the header.
/// </summary>
public enum IgvmHeaderType : uint
{
    Invalid = 0x000,

    // Platform section (0x001-0x100).
    SupportedPlatform = 0x001,

    // Initialization section (0x101-0x200).
    GuestPolicy = 0x101,
    RelocatableRegion = 0x102,
    PageTableRelocationRegion = 0x103,
    CorimDocument = 0x104,
    CorimSignature = 0x105,
    CcaPolicy = 0x106,

    // Directive section (0x301-0x400).
    ParameterArea = 0x301,
    PageData = 0x302,
    ParameterInsert = 0x303,
    VpContext = 0x304,
    RequiredMemory = 0x305,

    /// <summary>Was IGVM_VHT_SHARED_BOUNDARY_GPA in early revisions; retired, so a file must not use it.</summary>
    ReservedDoNotUse = 0x306,
    VpCountParameter = 0x307,
    Srat = 0x308,
    Madt = 0x309,
    MmioRanges = 0x30A,
    SnpIdBlock = 0x30B,
    MemoryMap = 0x30C,
    ErrorRange = 0x30D,
    CommandLine = 0x30E,
    Slit = 0x30F,
    Pptt = 0x310,
    VbsMeasurement = 0x311,
    DeviceTree = 0x312,
    EnvironmentInfoParameter = 0x313,
}

/// <summary>The three sections of the variable headers, in the only order a file may visit them.</summary>
public enum IgvmSection
{
    Platform = 0,
    Initialization = 1,
    Directive = 2,
}

/// <summary>Isolation architectures a SUPPORTED_PLATFORM header names (IgvmPlatformType; 4-6 are igvm_defs' "unstable").</summary>
public enum IgvmPlatformType : byte
{
    Native = 0,
    VsmIsolation = 1,
    SevSnp = 2,
    Tdx = 3,
    Sev = 4,
    SevEs = 5,
    Cca = 6,
}

/// <summary>Page data types (IgvmPageDataType).</summary>
public enum IgvmPageDataType : ushort
{
    Normal = 0,
    Secrets = 1,
    CpuidData = 2,
    CpuidXf = 3,
}

/// <summary>Page data flags (IgvmPageDataFlags); bits 3-31 are reserved.</summary>
[Flags]
public enum IgvmPageDataFlags : uint
{
    None = 0,

    /// <summary>A 2 MiB page: its GPA must be 2 MiB aligned.</summary>
    Is2MbPage = 1u << 0,

    /// <summary>Imported without being measured.</summary>
    Unmeasured = 1u << 1,

    /// <summary>Imported host-visible: contents kept, not measured.</summary>
    Shared = 1u << 2,

    Reserved = ~(Is2MbPage | Unmeasured | Shared),
}

/// <summary>The numbers and names of the format: type ranges, the may-ignore bit, the spec's names for messages and reports.</summary>
public static class IgvmNames
{
    /// <summary>Bit 31 of a stored type (IGVM_VHT_OPTIONAL_BIT).</summary>
    public const uint MayIgnoreBit = 1u << 31;

    /// <summary>The section a type belongs to by its number, or null for a number outside the three ranges.</summary>
    public static IgvmSection? SectionOf(uint type) => type switch
    {
        >= 0x001 and <= 0x100 => IgvmSection.Platform,
        >= 0x101 and <= 0x200 => IgvmSection.Initialization,
        >= 0x301 and <= 0x400 => IgvmSection.Directive,
        _ => null,
    };

    public static bool IsKnown(uint type) => type != (uint)IgvmHeaderType.Invalid && Enum.IsDefined((IgvmHeaderType)type);

    /// <summary>The spec's name (IGVM_VHT_PAGE_DATA), or the number for a type this reader does not know.</summary>
    public static string Of(IgvmHeaderType type) => type switch
    {
        IgvmHeaderType.SupportedPlatform => "IGVM_VHT_SUPPORTED_PLATFORM",
        IgvmHeaderType.GuestPolicy => "IGVM_VHT_GUEST_POLICY",
        IgvmHeaderType.RelocatableRegion => "IGVM_VHT_RELOCATABLE_REGION",
        IgvmHeaderType.PageTableRelocationRegion => "IGVM_VHT_PAGE_TABLE_RELOCATION_REGION",
        IgvmHeaderType.CorimDocument => "IGVM_VHT_CORIM_DOCUMENT",
        IgvmHeaderType.CorimSignature => "IGVM_VHT_CORIM_SIGNATURE",
        IgvmHeaderType.CcaPolicy => "IGVM_VHT_CCA_POLICY",
        IgvmHeaderType.ParameterArea => "IGVM_VHT_PARAMETER_AREA",
        IgvmHeaderType.PageData => "IGVM_VHT_PAGE_DATA",
        IgvmHeaderType.ParameterInsert => "IGVM_VHT_PARAMETER_INSERT",
        IgvmHeaderType.VpContext => "IGVM_VHT_VP_CONTEXT",
        IgvmHeaderType.RequiredMemory => "IGVM_VHT_REQUIRED_MEMORY",
        IgvmHeaderType.ReservedDoNotUse => "RESERVED_DO_NOT_USE",
        IgvmHeaderType.VpCountParameter => "IGVM_VHT_VP_COUNT_PARAMETER",
        IgvmHeaderType.Srat => "IGVM_VHT_SRAT",
        IgvmHeaderType.Madt => "IGVM_VHT_MADT",
        IgvmHeaderType.MmioRanges => "IGVM_VHT_MMIO_RANGES",
        IgvmHeaderType.SnpIdBlock => "IGVM_VHT_SNP_ID_BLOCK",
        IgvmHeaderType.MemoryMap => "IGVM_VHT_MEMORY_MAP",
        IgvmHeaderType.ErrorRange => "IGVM_VHT_ERROR_RANGE",
        IgvmHeaderType.CommandLine => "IGVM_VHT_COMMAND_LINE",
        IgvmHeaderType.Slit => "IGVM_VHT_SLIT",
        IgvmHeaderType.Pptt => "IGVM_VHT_PPTT",
        IgvmHeaderType.VbsMeasurement => "IGVM_VHT_VBS_MEASUREMENT",
        IgvmHeaderType.DeviceTree => "IGVM_VHT_DEVICE_TREE",
        IgvmHeaderType.EnvironmentInfoParameter => "IGVM_VHT_ENVIRONMENT_INFO_PARAMETER",
        _ => $"type {Hex.Of((ulong)type)}",
    };

    public static string Of(IgvmPlatformType platform) => platform switch
    {
        IgvmPlatformType.Native => "native",
        IgvmPlatformType.VsmIsolation => "vsm",
        IgvmPlatformType.SevSnp => "sev-snp",
        IgvmPlatformType.Tdx => "tdx",
        IgvmPlatformType.Sev => "sev",
        IgvmPlatformType.SevEs => "sev-es",
        IgvmPlatformType.Cca => "cca",
        _ => $"platform {Hex.Of((ulong)platform)}",
    };

    public static string Of(IgvmPageDataType type) => type switch
    {
        IgvmPageDataType.Normal => "normal",
        IgvmPageDataType.Secrets => "secrets",
        IgvmPageDataType.CpuidData => "cpuid",
        IgvmPageDataType.CpuidXf => "cpuid-xf",
        _ => $"type {Hex.Of((ulong)type)}",
    };

    public static string Of(IgvmPageDataFlags flags)
    {
        var names = new List<string>();
        if (flags.HasFlag(IgvmPageDataFlags.Is2MbPage))
        {
            names.Add("2mb");
        }

        if (flags.HasFlag(IgvmPageDataFlags.Unmeasured))
        {
            names.Add("unmeasured");
        }

        if (flags.HasFlag(IgvmPageDataFlags.Shared))
        {
            names.Add("shared");
        }

        if ((flags & IgvmPageDataFlags.Reserved) != 0)
        {
            names.Add("reserved " + Hex.Of((ulong)(flags & IgvmPageDataFlags.Reserved)));
        }

        return names.Count == 0 ? "-" : string.Join('|', names);
    }
}
