namespace CocoLaunch.Formats.Tcg;

/// <summary>Event types of the TCG PC Client Platform Firmware Profile (§10.4.1) that firmware logs.</summary>
public static class TcgEventType
{
    public const uint PrebootCert = 0x0, PostCode = 0x1, NoAction = 0x3, Separator = 0x4, Action = 0x5, EventTag = 0x6,
        SCrtmContents = 0x7, SCrtmVersion = 0x8, CpuMicrocode = 0x9, PlatformConfigFlags = 0xA, TableOfDevices = 0xB,
        CompactHash = 0xC, Ipl = 0xD, IplPartitionData = 0xE, NonhostCode = 0xF, NonhostConfig = 0x10, NonhostInfo = 0x11,
        OmitBootDeviceEvents = 0x12, PostCode2 = 0x13;

    public const uint EfiEventBase = 0x80000000, EfiVariableDriverConfig = 0x80000001, EfiVariableBoot = 0x80000002,
        EfiBootServicesApplication = 0x80000003, EfiBootServicesDriver = 0x80000004, EfiRuntimeServicesDriver = 0x80000005,
        EfiGptEvent = 0x80000006, EfiAction = 0x80000007, EfiPlatformFirmwareBlob = 0x80000008, EfiHandoffTables = 0x80000009,
        EfiPlatformFirmwareBlob2 = 0x8000000A, EfiHandoffTables2 = 0x8000000B, EfiVariableBoot2 = 0x8000000C,
        EfiGptEvent2 = 0x8000000D, EfiHcrtmEvent = 0x80000010, EfiVariableAuthority = 0x800000E0, EfiSpdmFirmwareBlob = 0x800000E1,
        EfiSpdmFirmwareConfig = 0x800000E2;

    private static readonly Dictionary<uint, string> Names = new()
    {
        [PrebootCert] = "EV_PREBOOT_CERT", [PostCode] = "EV_POST_CODE", [NoAction] = "EV_NO_ACTION", [Separator] = "EV_SEPARATOR",
        [Action] = "EV_ACTION", [EventTag] = "EV_EVENT_TAG", [SCrtmContents] = "EV_S_CRTM_CONTENTS", [SCrtmVersion] = "EV_S_CRTM_VERSION",
        [CpuMicrocode] = "EV_CPU_MICROCODE", [PlatformConfigFlags] = "EV_PLATFORM_CONFIG_FLAGS", [TableOfDevices] = "EV_TABLE_OF_DEVICES",
        [CompactHash] = "EV_COMPACT_HASH", [Ipl] = "EV_IPL", [IplPartitionData] = "EV_IPL_PARTITION_DATA", [NonhostCode] = "EV_NONHOST_CODE",
        [NonhostConfig] = "EV_NONHOST_CONFIG", [NonhostInfo] = "EV_NONHOST_INFO", [OmitBootDeviceEvents] = "EV_OMIT_BOOT_DEVICE_EVENTS",
        [PostCode2] = "EV_POST_CODE2", [EfiEventBase] = "EV_EFI_EVENT_BASE",
        [EfiVariableDriverConfig] = "EV_EFI_VARIABLE_DRIVER_CONFIG", [EfiVariableBoot] = "EV_EFI_VARIABLE_BOOT",
        [EfiBootServicesApplication] = "EV_EFI_BOOT_SERVICES_APPLICATION", [EfiBootServicesDriver] = "EV_EFI_BOOT_SERVICES_DRIVER",
        [EfiRuntimeServicesDriver] = "EV_EFI_RUNTIME_SERVICES_DRIVER", [EfiGptEvent] = "EV_EFI_GPT_EVENT", [EfiAction] = "EV_EFI_ACTION",
        [EfiPlatformFirmwareBlob] = "EV_EFI_PLATFORM_FIRMWARE_BLOB", [EfiHandoffTables] = "EV_EFI_HANDOFF_TABLES",
        [EfiPlatformFirmwareBlob2] = "EV_EFI_PLATFORM_FIRMWARE_BLOB2", [EfiHandoffTables2] = "EV_EFI_HANDOFF_TABLES2",
        [EfiVariableBoot2] = "EV_EFI_VARIABLE_BOOT2", [EfiGptEvent2] = "EV_EFI_GPT_EVENT2", [EfiHcrtmEvent] = "EV_EFI_HCRTM_EVENT",
        [EfiVariableAuthority] = "EV_EFI_VARIABLE_AUTHORITY", [EfiSpdmFirmwareBlob] = "EV_EFI_SPDM_FIRMWARE_BLOB",
        [EfiSpdmFirmwareConfig] = "EV_EFI_SPDM_FIRMWARE_CONFIG",
    };

    /// <summary>The spec's name, or "unknown (0x…)" for a type it does not define: never dropped.</summary>
    public static string Name(uint type) => Names.TryGetValue(type, out var name) ? name : $"unknown (0x{type:x8})";

    public static bool IsKnown(uint type) => Names.ContainsKey(type);
}
