using CocoLaunch.Abi;

namespace CocoLaunch.Formats.Sev;

/// <summary>A 32-bit guest range from a GUID table entry (u32 base, u32 size); 0/0 means "not provided".</summary>
public sealed record GuestRange(uint Base, uint Size)
{
    public bool IsEmpty => Base == 0 && Size == 0;

    public Gpa Start => new(Base);
}

/// <summary>What SEV, SEV-ES and SNP launches read from the firmware.</summary>
/// <param name="Metadata">The ASEV sections, or null when the image has no SEV metadata entry.</param>
/// <param name="ApResetEip">The SEV-ES reset block's AP entry point, or null when the entry is missing.</param>
/// <param name="HashTable">Where QEMU places the kernel/initrd/cmdline hashes table for measured direct boot.</param>
/// <param name="LaunchSecret">Where a SEV launch secret may be injected.</param>
public sealed record SevFirmwareInfo(SevMetadata? Metadata, uint? ApResetEip, GuestRange? HashTable, GuestRange? LaunchSecret)
{
    /// <summary>The SEV section that holds the hashes table, if the table and such a section exist.</summary>
    public SevMetadataSection? HashTableSection =>
        HashTable is { IsEmpty: false } t ? Metadata?.Sections.FirstOrDefault(s => s.Contains(t.Base)) : null;
}
