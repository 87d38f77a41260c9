using CocoLaunch.Formats.Igvm;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Igvm;

/// <summary>What the SNP and TDX directive steps share: the failure naming the directive, and the source pages.</summary>
internal static class IgvmDirective
{
    /// <summary>
    /// Each directive for the platform, in file order, with the measurement log attributing its operations to it
    /// and a refused ioctl naming it. Parameter areas are collected for the inserts that follow them, and shared
    /// pages are skipped: neither is added to private memory or measured. The reader has checked that parameter
    /// areas are whole 4 KiB pages, so an insert covers exactly the area's bytes.
    /// </summary>
    public static void Walk(LaunchContext c, Action<IgvmHeader, IReadOnlyDictionary<uint, IgvmParameterArea>> load)
    {
        var areas = new Dictionary<uint, IgvmParameterArea>();
        foreach (var h in c.Igvm!.Directives)
        {
            if (h is IgvmParameterArea declared)
            {
                areas[declared.AreaIndex] = declared;
                continue;
            }

            if (h is IgvmPageData p && p.Flags.HasFlag(IgvmPageDataFlags.Shared))
            {
                continue;
            }

            c.Log.Section = IgvmLaunchInput.SectionOf(h);
            try
            {
                load(h, areas);
            }
            catch (KvmException e)
            {
                throw IgvmLaunchInput.Refuse(h, e.Message);
            }
        }

        c.Log.Section = string.Empty;
    }

    /// <summary>
    /// The page source the ioctl reads: the file's bytes mapped in place, or, for a zero page or a short
    /// parameter area, fresh anonymous memory (zeros) with whatever data there is copied in.
    /// </summary>
    public static Memory.Hva Source(LaunchContext c, ReadOnlyMemory<byte> data, ulong size)
    {
        if ((ulong)data.Length == size)
        {
            return c.Kvm.Host.MapFile(data);
        }

        var at = c.Kvm.Host.Map(size);
        c.Kvm.Host.Write(at, data.Span);
        return at;
    }
}
