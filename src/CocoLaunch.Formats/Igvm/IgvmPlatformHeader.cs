using CocoLaunch.Abi;

namespace CocoLaunch.Formats.Igvm;

/// <summary>IGVM_VHS_SUPPORTED_PLATFORM: one platform the file can launch on, and the mask bit that names it.</summary>
public sealed record IgvmSupportedPlatform(
    int Index,
    long Offset,
    uint RawType,
    uint Mask,
    byte HighestVtl,
    IgvmPlatformType Platform,
    ushort PlatformVersion,
    Gpa SharedGpaBoundary) : IgvmHeader(Index, Offset, RawType)
{
    public override uint? CompatibilityMask => Mask;

    public string PlatformName => IgvmNames.Of(Platform);

    public override IEnumerable<IgvmField> Fields() =>
    [
        F("platform", PlatformName),
        F("highestVtl", HighestVtl),
        F("platformVersion", PlatformVersion),
        F("sharedGpaBoundary", SharedGpaBoundary.ToString()),
    ];
}
