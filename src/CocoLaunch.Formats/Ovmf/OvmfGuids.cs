namespace CocoLaunch.Formats.Ovmf;

/// <summary>GUIDs of the OVMF GUIDed table and the metadata blocks it points to.</summary>
/// <remarks>.NET's <see cref="Guid"/> byte layout is the EFI on-disk layout, so these compare directly with file bytes.</remarks>
public static class OvmfGuids
{
    public static readonly Guid TableFooter = new("96b582de-1fb2-45f7-baea-a366c55a082d");
    public static readonly Guid TdxMetadataOffset = new("e47a6535-984a-4798-865e-4685a7bf8ec2");
    public static readonly Guid TdxMetadata = new("e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae");
    public static readonly Guid SevMetadataOffset = new("dc886566-984a-4798-a75e-5585a7bf67cc");
    public static readonly Guid SevHashTable = new("7255371f-3a3b-4b04-927b-1da6efa8d454");
    public static readonly Guid SevLaunchSecret = new("4c2eb361-7d9b-4cc3-8081-127c90d3d294");
    public static readonly Guid SevEsResetBlock = new("00f771de-1a7e-4fcb-890e-68c77e2fb44e");
    public static readonly Guid SvsmInfo = new("a789a612-0597-4c4b-a49f-cbb1fe9d1ddd");

    /// <summary>A short human name for a GUID table entry, or null when the GUID is not one we know.</summary>
    public static string? NameOf(Guid guid) => guid switch
    {
        _ when guid == TdxMetadataOffset => "TDX metadata offset",
        _ when guid == SevMetadataOffset => "SEV metadata offset",
        _ when guid == SevHashTable => "SEV hash table",
        _ when guid == SevLaunchSecret => "SEV launch secret",
        _ when guid == SevEsResetBlock => "SEV-ES reset block",
        _ when guid == SvsmInfo => "SVSM info",
        _ => null,
    };
}
