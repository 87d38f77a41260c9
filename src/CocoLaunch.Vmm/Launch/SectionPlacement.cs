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
        // TDX and SNP add and measure pages through guest_memfd: a section in a shared slot fails INIT_MEM_REGION or
        // LAUNCH_UPDATE, so it must lie in private memory (contiguous private slots count as one range, as in KVM).
        bool needsPrivate = platform is KvmVmType.Tdx or KvmVmType.Snp;
        if (platform == KvmVmType.Tdx && firmware?.Tdx.Value is { } tdvf)
        {
            foreach (var s in tdvf.Sections)
            {
                // QEMU carves TD_HOB and TempMem out of RAM (as accepted memory); BFV and CFV sit in the firmware's own slot.
                bool inRam = s.Type is TdvfSectionType.TdHob or TdvfSectionType.TempMem;
                Require(layout, inRam, needsPrivate, s.MemoryAddress.Value, s.MemoryDataSize, $"{s.Label} at GPA {Range(s.MemoryAddress.Value, s.MemoryAddress.Value + s.MemoryDataSize)}");
            }

            // The TD HOB is built from the same ranges before its PAGE.ADD: what fails there fails here.
            Tdx.TdHobBuilder.Resources(layout.Where(p => !p.Firmware).Select(p => (p.Gpa.Value, p.Size)), tdvf.Sections);
        }

        if (platform == KvmVmType.Snp && firmware?.Sev.Value?.Metadata is { } sev)
        {
            foreach (var s in sev.Sections)
            {
                Require(layout, ramOnly: false, needsPrivate, s.Gpa.Value, s.Size, $"{s.Label} at GPA {Range(s.Gpa.Value, s.End)}");
            }
        }
    }

    private static string Range(ulong start, ulong end) => $"[0x{start:x},0x{end:x})";

    private static void Require(IReadOnlyList<PlannedSlot> layout, bool ramOnly, bool needsPrivate, ulong start, ulong size, string what)
    {
        ulong end = start + size; // the parser has refused ranges that wrap
        var candidates = layout.Where(p => !ramOnly || !p.Firmware).ToList();
        if (Covered(candidates.Where(p => !needsPrivate || p.Private), start, end))
        {
            return;
        }

        if (needsPrivate && Covered(candidates, start, end))
        {
            var shared = candidates.First(p => !p.Private && p.Gpa.Value < end && start < p.End);
            throw new LaunchException($"{what} lies in the shared memory slot {Range(shared.Gpa.Value, shared.End)}; the launch adds and measures it through guest_memfd, so it must be in private memory (kind: private)");
        }

        var ranges = candidates.Select(p => $"{Range(p.Gpa.Value, p.End)}{(p.Firmware ? " firmware" : string.Empty)}");
        throw new LaunchException($"{what} lies outside guest {(ramOnly ? "RAM" : "memory")} ({string.Join(", ", ranges)}); give more memory or fix the firmware's metadata");
    }

    /// <summary>Whether [start, end) lies inside the slots, contiguous slots joined.</summary>
    private static bool Covered(IEnumerable<PlannedSlot> slots, ulong start, ulong end) =>
        Tdx.TdHobBuilder.MergeRam(slots.Select(p => (p.Gpa.Value, p.Size))).Any(r => r.Start <= start && end <= r.Start + r.Length);
}
