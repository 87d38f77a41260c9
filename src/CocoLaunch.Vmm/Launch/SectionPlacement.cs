using CocoLaunch.Abi;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Formats.Tdvf;

namespace CocoLaunch.Vmm.Launch;

/// <summary>
/// Checks that every firmware metadata section the launch will add or measure lies inside the guest's memory
/// plan. The parser can only check a section against the image and the architecture; whether a GPA is RAM depends
/// on the spec's memory, and a section outside it would otherwise fail deep in the launch with no name attached.
/// </summary>
public static class SectionPlacement
{
    /// <exception cref="LaunchException">A section lies outside the planned memslots, naming it, its type and GPA range.</exception>
    public static void Check(IReadOnlyList<PlannedSlot> layout, OvmfFirmware? firmware, KvmVmType platform)
    {
        if (platform == KvmVmType.Tdx && firmware?.Tdx.Value is { } tdvf)
        {
            foreach (var s in tdvf.Sections)
            {
                // QEMU carves TD_HOB and TempMem out of RAM (as accepted memory); BFV and CFV sit in the firmware's own slot.
                bool inRam = s.Type is TdvfSectionType.TdHob or TdvfSectionType.TempMem;
                Require(layout, inRam, s.MemoryAddress.Value, s.MemoryDataSize, $"{s.Label} at GPA {Range(s.MemoryAddress.Value, s.MemoryAddress.Value + s.MemoryDataSize)}");
            }
        }

        if (platform == KvmVmType.Snp && firmware?.Sev.Value?.Metadata is { } sev)
        {
            foreach (var s in sev.Sections)
            {
                Require(layout, ramOnly: false, s.Gpa.Value, s.Size, $"{s.Label} at GPA {Range(s.Gpa.Value, s.End)}");
            }
        }
    }

    private static string Range(ulong start, ulong end) => $"[0x{start:x},0x{end:x})";

    private static void Require(IReadOnlyList<PlannedSlot> layout, bool ramOnly, ulong start, ulong size, string what)
    {
        ulong end = start + size; // the parser has refused ranges that wrap
        if (layout.Any(p => (!ramOnly || !p.Firmware) && p.Gpa.Value <= start && end <= p.End))
        {
            return;
        }

        var candidates = layout.Where(p => !ramOnly || !p.Firmware).Select(p => $"{Range(p.Gpa.Value, p.End)}{(p.Firmware ? " firmware" : string.Empty)}");
        throw new LaunchException($"{what} lies outside guest {(ramOnly ? "RAM" : "memory")} ({string.Join(", ", candidates)}); give more memory or fix the firmware's metadata");
    }
}
