namespace CocoLaunch.Spec;

/// <summary>AMD CPUID signatures (CPUID 1 EAX) of QEMU's EPYC CPU models, as sev-snp-measure knows them.</summary>
public static class VcpuModels
{
    private const uint Epyc = 0x800F12;
    private const uint Rome = 0x830F10;
    private const uint Milan = 0xA00F11;
    private const uint Genoa = 0xA10F10;
    private const uint Turin = 0xB00F00;

    public static IReadOnlyDictionary<string, uint> Signatures { get; } = new Dictionary<string, uint>(StringComparer.Ordinal)
    {
        ["EPYC"] = Epyc, ["EPYC-v1"] = Epyc, ["EPYC-v2"] = Epyc, ["EPYC-v3"] = Epyc, ["EPYC-v4"] = Epyc, ["EPYC-IBPB"] = Epyc,
        ["EPYC-Rome"] = Rome, ["EPYC-Rome-v1"] = Rome, ["EPYC-Rome-v2"] = Rome, ["EPYC-Rome-v3"] = Rome,
        ["EPYC-Milan"] = Milan, ["EPYC-Milan-v1"] = Milan, ["EPYC-Milan-v2"] = Milan,
        ["EPYC-Genoa"] = Genoa, ["EPYC-Genoa-v1"] = Genoa,
        ["EPYC-Turin"] = Turin,
    };

    /// <summary>CPUID 1 EAX from family, model and stepping (families above 15 use the extended field).</summary>
    public static uint Signature(uint family, uint model, uint stepping)
    {
        uint baseFamily = family > 15 ? 0xF : family;
        uint extFamily = family > 15 ? family - 15 : 0;
        return (extFamily << 20) | ((model >> 4) << 16) | (baseFamily << 8) | ((model & 0xF) << 4) | stepping;
    }
}
