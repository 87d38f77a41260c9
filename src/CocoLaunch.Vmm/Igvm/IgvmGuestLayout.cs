using CocoLaunch.Abi;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Igvm;

/// <summary>
/// The memslots of a booted IGVM guest: the spec's RAM, where most of the file's pages land, plus private slots
/// for the pages outside it (the firmware below 4 GiB, say), as QEMU maps an IGVM region that no RAM covers.
/// </summary>
internal static class IgvmGuestLayout
{
    public static IReadOnlyList<PlannedSlot> Around(IReadOnlyList<PlannedSlot> ram, IReadOnlyList<PlannedSlot> pages)
    {
        var ranges = ram.Select(s => (s.Gpa.Value, s.End, s.Private)).ToList();
        foreach (var slot in pages)
        {
            ranges.AddRange(Outside((slot.Gpa.Value, slot.End), ram).Select(r => (r.Start, r.End, true)));
        }

        return [.. ranges.OrderBy(r => r.Item1).Select((r, i) => new PlannedSlot((uint)i, new Gpa(r.Item1), r.Item2 - r.Item1, r.Item3, Firmware: false))];
    }

    /// <summary>The parts of <paramref name="range"/> no RAM slot covers.</summary>
    private static List<(ulong Start, ulong End)> Outside((ulong Start, ulong End) range, IReadOnlyList<PlannedSlot> ram)
    {
        var left = new List<(ulong Start, ulong End)> { range };
        foreach (var slot in ram)
        {
            left = [.. left.SelectMany(r => r.End <= slot.Gpa.Value || slot.End <= r.Start
                ? [r]
                : new[] { (r.Start, Math.Min(r.End, slot.Gpa.Value)), (Math.Max(r.Start, slot.End), r.End) }.Where(p => p.Item2 > p.Item1))];
        }

        return left;
    }
}
